// current.h — the current state in memory: each host's and VM's newest samples (decoded to the
// records the summary methods read), its description, and which VMs run on which host. The
// store keeps it as it commits (Store::write, the purges) and rebuilds it from its own
// databases when it opens, so cluster.status, host.vms and the descriptions read memory, not
// LMDB. docs/architecture.md ("The current state") says who updates it and what it costs.
//
// Caveats:
//  - One writer (the store's writer thread: apply(), purged_before(), rebuild()); any number
//    of readers. An entry is immutable once published and held by shared_ptr: a reader copies
//    the pointers it needs under a short shared lock and reads them after, so it never sees a
//    torn entry and never holds the writer up for longer than that copy.
//  - held samples are the entity's newest by the store's order (time, then arrival), at most
//    kHostHeld / kVmHeld; a reader whose `now` lies before some of them (a clock stepped back)
//    must read that entity from the store instead.
//  - Names are cut to the store's kMaxNameLen, as in its keys.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sflow_monitor/records.h"
#include "sflow_monitor/store.h"

namespace sfm {

// A host's sample, as much of it as cluster.status reads.
struct HostSample {
    SampleMeta meta;
    std::optional<HostCpu> cpu;
    std::optional<HostMemory> mem;
    std::optional<HostDiskIo> disk;
    std::optional<HostNetIo> net;
    static HostSample from(const SampleMeta& m, std::string_view records_raw);
};

// A VM's sample, as much of it as cluster.status reads.
struct VmSample {
    SampleMeta meta;
    std::optional<VirtCpu> cpu;
    std::optional<VirtMemory> mem;
    static VmSample from(const SampleMeta& m, std::string_view records_raw);
};

constexpr size_t kHostHeld = 3;  // cluster.status derives a host from its newest 3 samples
constexpr size_t kVmHeld = 2;    // and a VM from its newest 2
constexpr size_t kDescrLookback = 256;  // a host's description: see host_descr (methods.h)

// The newest samples of one entity, newest first, at most N (the store's order: a later
// sample of the same millisecond is the newer).
template <class S, size_t N>
struct Held {
    S s[N];
    size_t n = 0;
    // Placed by time; returns its place (0: the newest), N when older than all N held (dropped).
    size_t add(S x);
    // Drops those older than cutoff ms; returns how many are left.
    size_t drop_before(int64_t cutoff);
    const S& operator[](size_t i) const { return s[i]; }
    size_t size() const { return n; }
};

struct CurrentHost {
    std::string name;  // Address::raw(), as the store keys it
    std::string ip;    // Address text: host_ip
    SampleMeta last;   // the newest sample's meta (the `entities` database)
    Held<HostSample, kHostHeld> held;
    // The description: the host_descr of the newest sample that had one, while it is among the
    // newest kDescrLookback samples (descr_newer: how many samples are newer); else none.
    std::string hostname;  // its hostname ("" when none)
    std::shared_ptr<const std::string> description;  // host.description's object, as JSON
    int64_t descr_ts = 0;
    uint32_t descr_newer = 0;
    bool has_descr = false;
    // The hostname the answers show: from the description, while there is one.
    std::string_view described() const {
        return has_descr && descr_newer < kDescrLookback ? std::string_view(hostname) : std::string_view();
    }
};

// What a VM's answers show of it as text, rendered (JSON-escaped) once when its agent or uuid
// changes, not per request: most of cluster.status's cost was escaping these strings.
struct VmText {
    std::string host_ip;      // text of CurrentVm::last.agent: where its newest sample came from
    std::string uuid;         // the newest sample's host_descr uuid, as text ("" when none)
    std::string description;  // virt.description's object: {"host_ip":…,"hostname":…}
    std::string head;         // cluster.status's and host.vms' object, open: {"hostname":…,"uuid":…,"host_ip":…
    std::string quoted_name;  // the name as a JSON string
};

struct CurrentVm {
    std::string name;  // the host_descr hostname, as the store keys it
    SampleMeta last;   // the newest sample's meta (the `entities` database)
    std::optional<Uuid> uuid;  // the newest sample's host_descr uuid
    Held<VmSample, kVmHeld> held;
    std::shared_ptr<const VmText> text;
};

// host.description's object for one host: {"host_ip": ip, the host_descr fields}, after sep().
class JsonWriter;
void write_host_description(JsonWriter& w, std::string_view ip, const HostDescr& d);

class Current {
public:
    using HostPtr = std::shared_ptr<const CurrentHost>;
    using VmPtr = std::shared_ptr<const CurrentVm>;

    // ---- the writer ----
    // After the batch's transaction committed. On an exception (bad_alloc) the entities keep
    // what they showed before the batch, or part of it; their next batch updates them again.
    void apply(const SampleBatch& batch);
    // After a purge removed every sample older than cutoff ms.
    void purged_before(int64_t cutoff);
    // From the store's `entities` database and each entity's newest samples (at open).
    void rebuild(const Store& store);

    // ---- readers (any thread) ----
    std::vector<HostPtr> hosts() const;  // sorted by host_ip text
    std::vector<VmPtr> vms() const;      // sorted by name bytes
    std::vector<VmPtr> vms_on(const Address& agent) const;  // whose newest sample came from it, by name
    HostPtr host(const Address& agent) const;               // null when not held
    std::vector<Address> vm_agents() const;  // every agent some VM's newest sample came from
    size_t size() const;                 // entries held (hosts + VMs)
    // virt.description's array, without its brackets: every VM's description object, by name,
    // comma-separated. Rendered again only after a VM came, went, moved or changed its uuid
    // (its VmText changed), so most calls copy one string.
    std::shared_ptr<const std::string> vm_descriptions() const;

private:
    template <class E>
    struct Slot {
        std::string name;   // as the store keys it (by_name's key views it)
        std::string order;  // the sort key: host_ip text, or the VM's name
        std::shared_ptr<const E> entry;  // null until its first batch is published
        std::unique_ptr<E> work;  // the writer's: the entry a batch is changing, until published
    };
    template <class E>
    struct Table {
        std::unordered_map<std::string_view, std::unique_ptr<Slot<E>>> by_name;  // store name → slot
        std::vector<Slot<E>*> sorted;                                       // by Slot::order
        std::vector<Slot<E>*> pending;  // inserted, not yet in `sorted` (settle())
        Slot<E>* find(std::string_view name) const;
        // A new slot: in `sorted` after settle(), which merges all those inserted since in
        // one pass (thousands of new entities in one batch cost a sort, not a shift each).
        Slot<E>* insert(std::string name, std::string order);
        void settle();
        void erase(std::string_view name);
    };
    void apply(const SampleBatch& batch, std::vector<Slot<CurrentHost>*>& hosts, std::vector<Slot<CurrentVm>*>& vms);
    // The host→VMs index (on_host_): slot's VM under the agent of its newest sample.
    void place_vm(Slot<CurrentVm>* slot, const CurrentVm* before);
    void unplace_vm_from(const std::string& agent, Slot<CurrentVm>* slot);

    mutable std::shared_mutex mu_;  // exclusive: the writer publishing; shared: readers copying
    Table<CurrentHost> hosts_;
    Table<CurrentVm> vms_;
    std::unordered_map<std::string, std::vector<Slot<CurrentVm>*>> on_host_;  // agent raw → by name
    uint64_t vm_texts_ = 0;  // under mu_: changes whenever a VM's VmText does (or a VM comes or goes)
    mutable std::mutex cache_mu_;  // guards the two below (after mu_, never before)
    mutable std::shared_ptr<const std::string> vm_descriptions_;
    mutable uint64_t vm_descriptions_of_ = UINT64_MAX;  // the vm_texts_ they were rendered at
};

}  // namespace sfm
