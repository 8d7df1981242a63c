// current.cpp — the current state in memory (see current.h): kept by the store's writer as it
// commits, rebuilt from the store when it opens, read by the summary methods.
#include "sflow_monitor/current.h"

#include <algorithm>
#include <mutex>

#include "sflow_monitor/json.h"
#include "sflow_monitor/sflow.h"
#include "sflow_monitor/store_format.h"

namespace sfm {

HostSample HostSample::from(const SampleMeta& m, std::string_view raw) {
    return {m, find_record<HostCpu>(raw), find_record<HostMemory>(raw), find_record<HostDiskIo>(raw),
            find_record<HostNetIo>(raw)};
}

VmSample VmSample::from(const SampleMeta& m, std::string_view raw) {
    return {m, find_record<VirtCpu>(raw), find_record<VirtMemory>(raw)};
}

template <class S, size_t N>
size_t Held<S, N>::add(S x) {
    // newest first; a sample of the same millisecond as a held one came later, so is newer
    size_t i = 0;
    while (i < n && s[i].meta.ts_ms > x.meta.ts_ms) ++i;
    if (i == N) return N;
    for (size_t j = std::min(n, N - 1); j > i; --j) s[j] = std::move(s[j - 1]);
    s[i] = std::move(x);
    n = std::min(n + 1, N);
    return i;
}

template <class S, size_t N>
size_t Held<S, N>::drop_before(int64_t cutoff) {
    while (n && s[n - 1].meta.ts_ms < cutoff) s[--n] = S{};
    return n;
}

template struct Held<HostSample, kHostHeld>;
template struct Held<VmSample, kVmHeld>;

void write_host_description(JsonWriter& w, std::string_view ip, const HostDescr& d) {
    w.sep();
    w.begin_object();
    w.member("host_ip", ip);
    w.api_fields(d);
    w.end_object();
}

namespace {

std::shared_ptr<const std::string> render_host(std::string_view ip, const HostDescr& d) {
    std::string s;
    JsonWriter w(s);
    write_host_description(w, ip, d);
    return std::make_shared<const std::string>(std::move(s));
}

std::shared_ptr<const VmText> render_vm(const CurrentVm& e) {
    auto t = std::make_shared<VmText>();
    t->host_ip = e.last.agent.text();
    if (e.uuid) t->uuid = e.uuid->text();
    JsonWriter d(t->description);
    d.begin_object();
    d.member("host_ip", t->host_ip);
    d.member("hostname", e.name);
    d.end_object();
    JsonWriter h(t->head);
    h.begin_object();
    h.member("hostname", e.name);
    h.member("uuid", t->uuid);
    h.member("host_ip", t->host_ip);
    JsonWriter n(t->quoted_name);
    n.string(e.name);
    return t;
}

void set_descr(CurrentHost& e, const HostDescr& d, int64_t ts) {
    e.hostname.assign(d.hostname.value);
    e.description = render_host(e.ip, d);
    e.descr_ts = ts;
    e.descr_newer = 0;
    e.has_descr = true;
}

// One sample of a host, in any order relative to those the entry has seen.
void add_host_sample(CurrentHost& e, const SampleMeta& m, std::string_view raw) {
    if (e.held.size() == 0 || !(e.last.ts_ms > m.ts_ms)) e.last = m;  // as update_entities
    size_t place = e.held.add(HostSample::from(m, raw));
    bool newer = !e.has_descr || m.ts_ms >= e.descr_ts;  // than the description's sample
    if (!newer) return;
    if (auto d = find_record<HostDescr>(raw)) {
        set_descr(e, *d, m.ts_ms);
        // Out of order (older than the newest): the held samples newer than it; past those,
        // kHostHeld (the store alone knows how many more there are).
        e.descr_newer = uint32_t(place);
    } else if (e.has_descr && e.descr_newer < kDescrLookback) ++e.descr_newer;
}

void add_vm_sample(CurrentVm& e, const SampleMeta& m, std::string_view raw) {
    bool fresh = e.held.size() == 0;
    if (fresh || !(e.last.ts_ms > m.ts_ms)) {  // the newest, as update_entities has it
        bool moved = fresh || !(e.last.agent == m.agent);
        e.last = m;
        std::optional<Uuid> uuid;
        if (auto d = find_record<HostDescr>(raw)) uuid = d->uuid;
        bool renamed = uuid.has_value() != e.uuid.has_value() || (uuid && uuid->bytes != e.uuid->bytes);
        e.uuid = uuid;
        if (moved || renamed) e.text = render_vm(e);
    }
    e.held.add(VmSample::from(m, raw));
}

}  // namespace

// ---- the tables ----------------------------------------------------------------------------

template <class E>
Current::Slot<E>* Current::Table<E>::find(std::string_view name) const {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second.get();
}

template <class E>
Current::Slot<E>* Current::Table<E>::insert(std::string name, std::string order) {
    auto slot = std::make_unique<Slot<E>>();
    slot->name = std::move(name);
    slot->order = std::move(order);
    Slot<E>* p = slot.get();
    by_name.emplace(std::string_view(p->name), std::move(slot));
    pending.push_back(p);
    return p;
}

template <class E>
void Current::Table<E>::settle() {
    if (pending.empty()) return;
    auto less = [](const Slot<E>* a, const Slot<E>* b) { return a->order < b->order; };
    std::sort(pending.begin(), pending.end(), less);
    size_t old = sorted.size();
    sorted.insert(sorted.end(), pending.begin(), pending.end());
    std::inplace_merge(sorted.begin(), sorted.begin() + std::ptrdiff_t(old), sorted.end(), less);
    pending.clear();
}

template <class E>
void Current::Table<E>::erase(std::string_view name) {
    auto it = by_name.find(name);
    if (it == by_name.end()) return;
    Slot<E>* p = it->second.get();
    auto at = std::lower_bound(sorted.begin(), sorted.end(), p,
                               [](const Slot<E>* a, const Slot<E>* b) { return a->order < b->order; });
    if (at != sorted.end() && *at == p) sorted.erase(at);
    by_name.erase(it);
}

void Current::place_vm(Slot<CurrentVm>* slot, const CurrentVm* before) {
    const CurrentVm& now = *slot->entry;
    if (before && before->last.agent == now.last.agent) return;
    if (before) unplace_vm_from(std::string(before->last.agent.raw()), slot);
    auto& list = on_host_[std::string(now.last.agent.raw())];
    auto at = std::lower_bound(list.begin(), list.end(), slot,
                               [](const Slot<CurrentVm>* a, const Slot<CurrentVm>* b) { return a->order < b->order; });
    list.insert(at, slot);
}

void Current::unplace_vm_from(const std::string& agent, Slot<CurrentVm>* slot) {
    auto it = on_host_.find(agent);
    if (it == on_host_.end()) return;
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), slot), list.end());
    if (list.empty()) on_host_.erase(it);
}

// ---- the writer ----------------------------------------------------------------------------

void Current::apply(const SampleBatch& batch) {
    std::vector<Slot<CurrentHost>*> hosts;
    std::vector<Slot<CurrentVm>*> vms;
    try {
        apply(batch, hosts, vms);
    } catch (...) {
        // a working copy left behind would take the next batches' samples and never be
        // published: the entities keep what they showed, and their next batch starts afresh
        for (Slot<CurrentHost>* slot : hosts) slot->work.reset();
        for (Slot<CurrentVm>* slot : vms) slot->work.reset();
        throw;
    }
}

void Current::apply(const SampleBatch& batch, std::vector<Slot<CurrentHost>*>& hosts,
                    std::vector<Slot<CurrentVm>*>& vms) {
    // Each entity the batch touches gets a working copy of its entry (slot->work: the writer
    // alone changes the tables, so it reads them without the lock), changed sample by sample;
    // then all are published together under the lock. A new entity's slot is made under it.
    for (size_t i = 0; i < batch.size(); ++i) {
        SampleView s = batch[i];
        std::string_view name = s.name.substr(0, store_format::kMaxNameLen);
        if (s.kind == Entity::host) {
            Slot<CurrentHost>* slot = hosts_.find(name);
            if (!slot) {
                std::unique_lock<std::shared_mutex> lock(mu_);
                slot = hosts_.insert(std::string(name), Address::from_raw(name).text());
            }
            if (!slot->work) {
                hosts.push_back(slot);  // first: a slot with a working copy is always listed
                slot->work = slot->entry ? std::make_unique<CurrentHost>(*slot->entry) : std::make_unique<CurrentHost>();
                if (!slot->entry) {
                    slot->work->name = slot->name;
                    slot->work->ip = slot->order;
                }
            }
            add_host_sample(*slot->work, s.meta, s.records_raw);
        } else if (s.kind == Entity::vm) {
            Slot<CurrentVm>* slot = vms_.find(name);
            if (!slot) {
                std::unique_lock<std::shared_mutex> lock(mu_);
                slot = vms_.insert(std::string(name), std::string(name));
            }
            if (!slot->work) {
                vms.push_back(slot);
                slot->work = slot->entry ? std::make_unique<CurrentVm>(*slot->entry) : std::make_unique<CurrentVm>();
                if (!slot->entry) slot->work->name = slot->name;
            }
            add_vm_sample(*slot->work, s.meta, s.records_raw);
        }
    }
    std::vector<std::shared_ptr<const CurrentHost>> new_hosts;
    std::vector<std::shared_ptr<const CurrentVm>> new_vms;
    new_hosts.reserve(hosts.size());
    new_vms.reserve(vms.size());
    for (Slot<CurrentHost>* slot : hosts) {
        new_hosts.push_back(std::make_shared<const CurrentHost>(std::move(*slot->work)));
        slot->work.reset();
    }
    for (Slot<CurrentVm>* slot : vms) {
        new_vms.push_back(std::make_shared<const CurrentVm>(std::move(*slot->work)));
        slot->work.reset();
    }
    std::vector<std::shared_ptr<const void>> old;  // freed after the lock
    old.reserve(hosts.size() + vms.size());
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (size_t i = 0; i < hosts.size(); ++i) {
        old.push_back(std::move(hosts[i]->entry));
        hosts[i]->entry = std::move(new_hosts[i]);
    }
    for (size_t i = 0; i < vms.size(); ++i) {
        Slot<CurrentVm>* slot = vms[i];
        std::shared_ptr<const CurrentVm> before = std::move(slot->entry);
        slot->entry = std::move(new_vms[i]);
        if (!before || before->text != slot->entry->text) ++vm_texts_;
        place_vm(slot, before.get());
        old.push_back(std::move(before));
    }
    hosts_.settle();
    vms_.settle();
    lock.unlock();
}

void Current::purged_before(int64_t cutoff) {
    std::vector<std::shared_ptr<const CurrentHost>> hosts;  // changed, or emptied (erased)
    std::vector<std::shared_ptr<const CurrentVm>> vms;
    for (Slot<CurrentHost>* slot : hosts_.sorted) {
        const CurrentHost& e = *slot->entry;
        if (e.held.size() && e.held[e.held.size() - 1].meta.ts_ms >= cutoff &&
            !(e.has_descr && e.descr_ts < cutoff))
            continue;
        CurrentHost copy = e;
        copy.held.drop_before(cutoff);
        if (copy.has_descr && copy.descr_ts < cutoff) {
            copy.has_descr = false;
            copy.hostname.clear();
            copy.description.reset();
        }
        hosts.push_back(std::make_shared<const CurrentHost>(std::move(copy)));
    }
    for (Slot<CurrentVm>* slot : vms_.sorted) {
        const CurrentVm& e = *slot->entry;
        if (e.held.size() && e.held[e.held.size() - 1].meta.ts_ms >= cutoff) continue;
        CurrentVm copy = e;
        copy.held.drop_before(cutoff);
        vms.push_back(std::make_shared<const CurrentVm>(std::move(copy)));
    }
    if (hosts.empty() && vms.empty()) return;
    std::vector<std::shared_ptr<const void>> old;
    std::unique_lock<std::shared_mutex> lock(mu_);
    for (auto& e : hosts) {
        Slot<CurrentHost>* slot = hosts_.find(e->name);
        old.push_back(std::move(slot->entry));
        if (e->held.size()) slot->entry = std::move(e);
        else hosts_.erase(e->name);
    }
    for (auto& e : vms) {
        Slot<CurrentVm>* slot = vms_.find(e->name);
        old.push_back(slot->entry);
        if (e->held.size()) {
            slot->entry = std::move(e);
        } else {
            unplace_vm_from(std::string(slot->entry->last.agent.raw()), slot);
            vms_.erase(e->name);
            ++vm_texts_;
        }
    }
    lock.unlock();
}

void Current::rebuild(const Store& store) {
    std::vector<std::shared_ptr<const CurrentHost>> hosts;
    std::vector<std::shared_ptr<const CurrentVm>> vms;
    constexpr int64_t kAll = INT64_MAX / 2;
    for (EntityInfo& info : store.entities(Entity::host)) {
        CurrentHost e;
        e.name = std::move(info.name);
        e.ip = Address::from_raw(e.name).text();
        e.last = info.last;
        store.scan(Entity::host, e.name, -1, kAll,
                   [&](const SampleMeta& m, std::string_view raw) {  // newest first
                       if (e.held.n < kHostHeld) e.held.s[e.held.n++] = HostSample::from(m, raw);
                   },
                   kHostHeld, true);
        if (e.held.size() == 0) continue;
        if (auto d = find_record<HostDescr>(info.records_raw)) {
            set_descr(e, *d, info.last.ts_ms);
        } else {
            uint32_t newer = 0;
            bool found = false;
            store.scan(Entity::host, e.name, -1, kAll,
                       [&](const SampleMeta& m, std::string_view raw) {
                           if (found) return;
                           if (auto d = find_record<HostDescr>(raw)) {
                               set_descr(e, *d, m.ts_ms);
                               e.descr_newer = newer;
                               found = true;
                           } else {
                               ++newer;
                           }
                       },
                       kDescrLookback, true);
            if (!found) e.descr_newer = kDescrLookback;
        }
        hosts.push_back(std::make_shared<const CurrentHost>(std::move(e)));
    }
    for (EntityInfo& info : store.entities(Entity::vm)) {
        CurrentVm e;
        e.name = std::move(info.name);
        e.last = info.last;
        if (auto d = find_record<HostDescr>(info.records_raw)) e.uuid = d->uuid;
        e.text = render_vm(e);
        store.scan(Entity::vm, e.name, -1, kAll,
                   [&](const SampleMeta& m, std::string_view raw) {
                       if (e.held.n < kVmHeld) e.held.s[e.held.n++] = VmSample::from(m, raw);
                   },
                   kVmHeld, true);
        if (e.held.size() == 0) continue;
        vms.push_back(std::make_shared<const CurrentVm>(std::move(e)));
    }
    std::unique_lock<std::shared_mutex> lock(mu_);
    hosts_ = {};
    vms_ = {};
    on_host_.clear();
    ++vm_texts_;
    for (auto& e : hosts) hosts_.insert(e->name, e->ip)->entry = std::move(e);
    for (auto& e : vms) {
        Slot<CurrentVm>* slot = vms_.insert(e->name, e->name);
        slot->entry = std::move(e);
        place_vm(slot, nullptr);
    }
    hosts_.settle();
    vms_.settle();
}

// ---- readers -------------------------------------------------------------------------------

std::vector<Current::HostPtr> Current::hosts() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    std::vector<HostPtr> out;
    out.reserve(hosts_.sorted.size());
    for (const Slot<CurrentHost>* s : hosts_.sorted) out.push_back(s->entry);
    return out;
}

std::vector<Current::VmPtr> Current::vms() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    std::vector<VmPtr> out;
    out.reserve(vms_.sorted.size());
    for (const Slot<CurrentVm>* s : vms_.sorted) out.push_back(s->entry);
    return out;
}

std::vector<Current::VmPtr> Current::vms_on(const Address& agent) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    std::vector<VmPtr> out;
    auto it = on_host_.find(std::string(agent.raw()));
    if (it != on_host_.end())
        for (const Slot<CurrentVm>* s : it->second) out.push_back(s->entry);
    return out;
}

Current::HostPtr Current::host(const Address& agent) const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    Slot<CurrentHost>* s = hosts_.find(agent.raw());
    return s ? s->entry : nullptr;
}

std::shared_ptr<const std::string> Current::vm_descriptions() const {
    std::vector<VmPtr> vms;
    uint64_t version;
    {
        std::shared_lock<std::shared_mutex> lock(mu_);
        version = vm_texts_;
        std::lock_guard<std::mutex> cache(cache_mu_);
        if (vm_descriptions_of_ == version) return vm_descriptions_;
        vms.reserve(vms_.sorted.size());
        for (const Slot<CurrentVm>* s : vms_.sorted) vms.push_back(s->entry);
    }
    auto text = std::make_shared<std::string>();
    size_t bytes = 0;
    for (const VmPtr& vm : vms) bytes += vm->text->description.size() + 1;
    text->reserve(bytes);
    for (const VmPtr& vm : vms) {
        if (!text->empty()) text->push_back(',');
        text->append(vm->text->description);
    }
    std::lock_guard<std::mutex> cache(cache_mu_);
    if (vm_descriptions_of_ == UINT64_MAX || version > vm_descriptions_of_) {  // the newer stays
        vm_descriptions_ = text;
        vm_descriptions_of_ = version;
    }
    return text;
}

std::vector<Address> Current::vm_agents() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    std::vector<Address> out;
    out.reserve(on_host_.size());
    for (const auto& [agent, vms] : on_host_) out.push_back(Address::from_raw(agent));
    return out;
}

size_t Current::size() const {
    std::shared_lock<std::shared_mutex> lock(mu_);
    return hosts_.sorted.size() + vms_.sorted.size();
}

}  // namespace sfm
