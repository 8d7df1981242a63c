// gen_test.cpp — sflow-gen, run as a binary ($BUILD/sflow-gen): its pcap decodes to what its
// expect file says, hsflowd's framing (sizes, record order, sequences), determinism, IPv6,
// migration, 32-bit wraps, option errors, and real UDP sending to a loopback socket.
//
// Oracles: the expect-file comparison is a round trip (sflow-gen writes the file from the same
// record structs and JsonWriter that decode and print the pcap here), so it catches framing,
// order and mix-ups, not a field both sides get wrong. The framing cases compare with values
// written here from the spec and hsflowd (1400 bytes, record order, sub-agent 100001, sequences
// from 1). test/e2e/gen_test.py walks the pcap's XDR by hand from the spec, independently.
#include <doctest/doctest.h>
#include <json/json.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "sflow_monitor/json.h"
#include "sflow_monitor/sflow.h"
#include "testkit/pcap.h"

using namespace sfm;

extern char** environ;

namespace {

std::string gen_bin() {
    const char* b = std::getenv("BUILD");
    return std::string(b && *b ? b : "build") + "/sflow-gen";
}

struct TempDir {
    std::string path;
    TempDir() {
        char tmpl[] = "/tmp/sfm-gen-test-XXXXXX";
        REQUIRE(mkdtemp(tmpl));
        path = tmpl;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string operator/(const std::string& name) const { return path + "/" + name; }
};

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs sflow-gen with args (stderr into dir/stderr); returns its exit status.
int run_gen(const TempDir& dir, const std::string& args) {
    std::string cmd = gen_bin() + " " + args + " 2>" + (dir / "stderr");
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

Json::Value parse_json(const std::string& text) {
    Json::CharReaderBuilder b;
    Json::Value v;
    std::string errs;
    std::istringstream in(text);
    REQUIRE_MESSAGE(Json::parseFromStream(b, in, &v, &errs), errs);
    return v;
}

struct Run {
    std::vector<CapturedDatagram> datagrams;
    std::vector<Datagram> decoded;  // views into datagrams[i].payload
    std::vector<Json::Value> expect;
};

// sflow-gen --pcap --expect with args, read back and decoded.
Run generate(const TempDir& dir, const std::string& args) {
    Run r;
    REQUIRE(run_gen(dir, "--pcap " + (dir / "out.pcap") + " --expect " + (dir / "out.jsonl") + " " + args) == 0);
    r.datagrams = read_pcap(dir / "out.pcap").datagrams;
    for (const auto& d : r.datagrams) r.decoded.push_back(decode_datagram(d.payload));
    std::istringstream lines(slurp(dir / "out.jsonl"));
    for (std::string line; std::getline(lines, line);) r.expect.push_back(parse_json(line));
    return r;
}

// The decoded records of a sample as {"<record name>": {fields}}, by the JSON visitor.
Json::Value records_json(const CounterSample& s) {
    std::string out;
    JsonWriter w(out);
    w.begin_object();
    for (const Record& rec : s.records)
        std::visit(
            [&](const auto& v) {
                using T = std::decay_t<decltype(v)>;
                if constexpr (!std::is_same_v<T, std::monostate>) {
                    w.key(T::name);
                    w.begin_object();
                    w.fields(v);
                    w.end_object();
                }
            },
            rec.value);
    w.end_object();
    return parse_json(out);
}

std::string source_of(const CounterSample& s) {
    return std::to_string(s.source_class) + ":" + std::to_string(s.source_index);
}

std::string hostname_of(const CounterSample& s) {
    const HostDescr* d = s.find<HostDescr>();
    return d ? std::string(d->hostname.value) : "";
}

// Every sample with its datagram, in send order.
struct Seen {
    const Datagram* d;
    const CounterSample* s;
};
std::vector<Seen> samples_of(const Run& r) {
    std::vector<Seen> out;
    for (const auto& d : r.decoded)
        for (const auto& s : d.samples) out.push_back({&d, &s});
    return out;
}

int udp_socket(uint16_t& port) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd >= 0);
    int rcvbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    socklen_t len = sizeof a;
    REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    port = ntohs(a.sin_port);
    return fd;
}

// Receives until `want` datagrams arrived or nothing came for timeout_ms.
std::vector<std::string> receive(int fd, size_t want, int timeout_ms) {
    std::vector<std::string> got;
    char buf[65536];
    while (got.size() < want) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, timeout_ms) <= 0) break;
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n >= 0) got.emplace_back(buf, size_t(n));
    }
    return got;
}

const char kSmall[] = "--hosts 3 --vms 4 --rounds 5 --interval 5000 --seed 7";

}  // namespace

TEST_CASE("round trip: every generated sample decodes to exactly what the expect file says") {
    TempDir dir;
    Run r = generate(dir, kSmall);
    std::vector<Seen> seen = samples_of(r);
    REQUIRE(seen.size() == 3u * (4 + 1) * 5);
    REQUIRE(r.expect.size() == seen.size());
    std::map<const Datagram*, size_t> index;
    for (size_t i = 0; i < r.decoded.size(); ++i) index[&r.decoded[i]] = i;
    for (size_t i = 0; i < seen.size(); ++i) {
        const Json::Value& e = r.expect[i];
        const Datagram& d = *seen[i].d;
        const CounterSample& s = *seen[i].s;
        CAPTURE(i);
        CHECK(e["datagram"].asUInt64() == index[&d]);
        CHECK(e["agent"].asString() == d.agent.text());
        CHECK(r.datagrams[index[&d]].src == d.agent.text());
        CHECK(e["sub_agent_id"].asUInt() == d.sub_agent_id);
        CHECK(e["datagram_sequence"].asUInt() == d.sequence);
        CHECK(e["uptime"].asUInt() == d.uptime);
        CHECK(e["source"].asString() == source_of(s));
        CHECK(e["sample_sequence"].asUInt() == s.sequence);
        CHECK(e["kind"].asString() == (s.source_class == 2 ? "host" : "vm"));
        CHECK(e["name"].asString() == hostname_of(s));
        CHECK(s.expanded);
        CHECK(s.errors.empty());
        CHECK(s.unknown_records == 0);
        CHECK(e["records"] == records_json(s));
    }
}

TEST_CASE("datagrams stay within 1400 bytes, filled greedily with several samples each") {
    for (const char* args : {kSmall, "--hosts 2 --vms 9 --rounds 2", "--hosts 2 --vms 2 --rounds 2"}) {
        CAPTURE(args);
        TempDir dir;
        Run r = generate(dir, args);
        size_t most = 0;
        for (size_t i = 0; i < r.datagrams.size(); ++i) {
            const Datagram& d = r.decoded[i];
            CHECK(r.datagrams[i].payload.size() <= 1400);
            CHECK(d.num_samples == d.samples.size());
            most = std::max(most, d.samples.size());
            // The next datagram of the same agent and round did not have room here.
            if (i + 1 == r.decoded.size()) continue;
            const Datagram& next = r.decoded[i + 1];
            if (!(next.agent == d.agent) || next.uptime != d.uptime) continue;
            size_t first = 8 + 12 + next.samples[0].records_raw.size();  // header, seq, source
            CHECK(r.datagrams[i].payload.size() + first > 1400);
        }
        CHECK(most >= 2);
    }
}

TEST_CASE("records come in hsflowd's wire order with host_descr last") {
    const std::vector<uint32_t> host = {2100, 2001, 2010, 2009, 2008, 2007, 2005, 2004, 2003, 2006, 2000};
    const std::vector<uint32_t> vm = {2001, 2103, 2102, 2101, 2104, 2002, 2000};
    TempDir dir;
    Run r = generate(dir, kSmall);
    for (const Seen& x : samples_of(r)) {
        std::vector<uint32_t> formats;
        for (const Record& rec : x.s->records) formats.push_back(rec.data_format);
        CHECK(formats == (x.s->source_class == 2 ? host : vm));
        const HostCpu* cpu = x.s->find<HostCpu>();
        if (cpu) CHECK(cpu->cpu_steal.has_value());  // the 80-byte form
    }
}

TEST_CASE("sequence numbers count from 1 per agent and per data source, uptime by the interval") {
    TempDir dir;
    Run r = generate(dir, kSmall);
    std::map<std::string, uint32_t> last_datagram;
    std::map<std::string, uint32_t> last_sample;
    std::map<std::string, uint32_t> host_uptime;  // agent -> uptime of its last host sample
    for (const Datagram& d : r.decoded) {
        std::string agent = d.agent.text();
        CHECK(d.sub_agent_id == 100001u);
        CHECK(d.sequence == last_datagram[agent] + 1);
        last_datagram[agent] = d.sequence;
        for (const CounterSample& s : d.samples) {
            std::string key = agent + " " + source_of(s);
            CHECK(s.sequence == last_sample[key] + 1);
            last_sample[key] = s.sequence;
            if (s.source_class != 2) continue;
            if (host_uptime.count(agent)) CHECK(d.uptime - host_uptime[agent] == 5000u);
            host_uptime[agent] = d.uptime;
            const HostCpu* cpu = s.find<HostCpu>();
            REQUIRE(cpu);
            CHECK(cpu->cpu_uptime == d.uptime / 1000);
        }
    }
    CHECK(last_datagram.size() == 3);
    CHECK(last_sample.size() == 3 * 5);
    for (auto& [key, seq] : last_sample) CHECK(seq == 5u);
}

TEST_CASE("the same seed gives identical bytes and another seed different ones") {
    TempDir dir;
    std::string common = " --hosts 2 --vms 3 --rounds 4 --pcap ";
    REQUIRE(run_gen(dir, "--seed 42" + common + (dir / "a.pcap")) == 0);
    REQUIRE(run_gen(dir, "--seed 42" + common + (dir / "b.pcap")) == 0);
    REQUIRE(run_gen(dir, "--seed 43" + common + (dir / "c.pcap")) == 0);
    std::string a = slurp(dir / "a.pcap"), b = slurp(dir / "b.pcap"), c = slurp(dir / "c.pcap");
    CHECK(a.size() > 1000);
    CHECK(a == b);
    CHECK(a != c);
}

TEST_CASE("--ipv6 agents count up from 2001:db8::1") {
    TempDir dir;
    Run r = generate(dir, "--hosts 3 --vms 1 --rounds 2 --ipv6");
    std::set<std::string> agents;
    for (const Datagram& d : r.decoded) {
        CHECK(d.agent.family == 6);
        agents.insert(d.agent.text());
    }
    CHECK(agents == std::set<std::string>{"2001:db8::1", "2001:db8::2", "2001:db8::3"});
    for (const Json::Value& e : r.expect) CHECK(agents.count(e["agent"].asString()) == 1);
}

TEST_CASE("--migrate moves VM 1 of host 1 to host 2's agent with a new dsIndex and its UUID") {
    TempDir dir;
    Run r = generate(dir, "--hosts 3 --vms 2 --rounds 4 --migrate");
    std::vector<Seen> moved;
    std::map<std::string, std::vector<uint32_t>> domains;  // agent -> num_domains per round
    std::set<uint32_t> host2_vm_indexes;
    for (const Seen& x : samples_of(r)) {
        std::string agent = x.d->agent.text();
        if (hostname_of(*x.s) == "vm-001-01") moved.push_back(x);
        else if (agent == "10.0.0.2" && x.s->source_class == 3) host2_vm_indexes.insert(x.s->source_index);
        if (const VirtNode* n = x.s->find<VirtNode>()) domains[agent].push_back(n->vnode_num_domains);
    }
    REQUIRE(moved.size() == 4);
    std::string uuid = moved[0].s->find<HostDescr>()->uuid.text();
    for (size_t i = 0; i < 4; ++i) {
        CAPTURE(i);
        CHECK(moved[i].d->agent.text() == (i < 2 ? "10.0.0.1" : "10.0.0.2"));
        CHECK(moved[i].s->find<HostDescr>()->uuid.text() == uuid);
        const HostParent* parent = moved[i].s->find<HostParent>();
        REQUIRE(parent);
        CHECK(parent->container_type == 2u);
        CHECK(parent->container_index == 1u);
    }
    CHECK(moved[2].s->source_index != moved[0].s->source_index);
    CHECK(moved[2].s->source_index == moved[3].s->source_index);
    CHECK(host2_vm_indexes.count(moved[2].s->source_index) == 0);
    CHECK(moved[2].s->sequence == 1u);  // a new data source of host 2's agent
    CHECK(domains["10.0.0.1"] == std::vector<uint32_t>{2, 2, 1, 1});
    CHECK(domains["10.0.0.2"] == std::vector<uint32_t>{2, 2, 3, 3});
    CHECK(domains["10.0.0.3"] == std::vector<uint32_t>{2, 2, 2, 2});
}

TEST_CASE("under --start-near-wrap cpu_idle wraps while its modular differences stay plausible") {
    TempDir dir;
    Run r = generate(dir, "--hosts 3 --vms 1 --rounds 5 --interval 5000 --start-near-wrap");
    std::map<std::string, std::vector<HostCpu>> cpus;
    for (const Seen& x : samples_of(r))
        if (const HostCpu* c = x.s->find<HostCpu>()) cpus[x.d->agent.text()].push_back(*c);
    REQUIRE(cpus.size() == 3);
    for (auto& [agent, series] : cpus) {
        CAPTURE(agent);
        REQUIRE(series.size() == 5);
        bool wrapped = false;
        for (size_t i = 1; i < series.size(); ++i) {
            const HostCpu &a = series[i - 1], &b = series[i];
            wrapped |= b.cpu_idle < a.cpu_idle;
            double budget = 5000.0 * b.cpu_num;  // ms of CPU time in one interval
            uint32_t idle = b.cpu_idle - a.cpu_idle;
            uint32_t all = idle + (b.cpu_user - a.cpu_user) + (b.cpu_nice - a.cpu_nice) +
                           (b.cpu_system - a.cpu_system) + (b.cpu_waiting_io - a.cpu_waiting_io) +
                           (b.cpu_intr - a.cpu_intr) + (b.cpu_sintr - a.cpu_sintr) +
                           (*b.cpu_steal - *a.cpu_steal);
            CHECK(idle > 0);
            CHECK(idle <= budget);
            CHECK(all >= 0.95 * budget);
            CHECK(all <= 1.05 * budget);
        }
        CHECK(wrapped);
    }
}

TEST_CASE("bad options exit with status 2 and a message") {
    TempDir dir;
    for (const char* args : {"--hosts 0", "--hosts many", "--no-such-option", "--migrate --hosts 1",
                             "--dest nowhere", "--dest [::1]:0", "--ipv6 --agent-base 10.0.0.1",
                             "--agent-base not-an-ip", "--rate 10 --pcap x.pcap"}) {
        CAPTURE(args);
        CHECK(run_gen(dir, args) == 2);
        CHECK(slurp(dir / "stderr").find("sflow-gen: ") == 0);
    }
}

TEST_CASE("datagrams sent over UDP arrive at a loopback socket byte for byte as in the pcap") {
    TempDir dir;
    uint16_t port = 0;
    int fd = udp_socket(port);
    std::string args = " --hosts 2 --vms 3 --rounds 3 --seed 5";
    REQUIRE(run_gen(dir, "--pcap " + (dir / "ref.pcap") + args) == 0);
    std::vector<CapturedDatagram> ref = read_pcap(dir / "ref.pcap").datagrams;
    REQUIRE(ref.size() == 2u * 2 * 3);
    REQUIRE(run_gen(dir, "--dest 127.0.0.1:" + std::to_string(port) + args) == 0);
    std::vector<std::string> got = receive(fd, ref.size() + 1, 2000);
    close(fd);
    REQUIRE(got.size() == ref.size());
    for (size_t i = 0; i < got.size(); ++i) CHECK(got[i] == ref[i].payload);
    CHECK(slurp(dir / "stderr").find("sent 12 datagrams") != std::string::npos);
}

TEST_CASE("--rate spreads the datagrams over time by the clock") {
    TempDir dir;
    uint16_t port = 0;
    int fd = udp_socket(port);
    // 1 host, 0 VMs: one datagram per round; 20 of them at 100/s span at least 0.19 s.
    std::vector<std::string> args = {gen_bin(), "--hosts", "1", "--vms", "0", "--rounds", "20",
                                     "--rate", "100", "--quiet",
                                     "--dest", "127.0.0.1:" + std::to_string(port)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    using Clock = std::chrono::steady_clock;
    const Clock::time_point spawned = Clock::now();  // before the first datagram can be sent
    REQUIRE(posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) == 0);
    std::vector<Clock::time_point> arrivals;
    for (size_t i = 0; i < 20; ++i) {
        if (receive(fd, 1, 5000).size() != 1) break;
        arrivals.push_back(Clock::now());
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(fd);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    REQUIRE(arrivals.size() == 20);
    // Paced, the last datagram is sent at least 19 intervals (0.19 s) after the first, which is
    // sent after the spawn, and it arrives after it is sent: a lower bound that a slow machine
    // cannot break (measuring from the first arrival could, if that one was received late).
    // Unpaced, all 20 go out as soon as the generator starts.
    double span = std::chrono::duration<double>(arrivals.back() - spawned).count();
    CHECK(span >= 0.19);
}

TEST_CASE("--duration loops the set and each agent's datagram sequence carries on") {
    TempDir dir;
    uint16_t port = 0;
    int fd = udp_socket(port);
    REQUIRE(run_gen(dir, "--hosts 1 --vms 0 --rounds 2 --interval 1000 --rate 100 --duration 0.3 "
                         "--dest 127.0.0.1:" + std::to_string(port)) == 0);
    std::vector<std::string> got = receive(fd, 1000, 500);
    close(fd);
    REQUIRE(got.size() >= 10);  // 2 per pass, about 30 in 0.3 s
    for (size_t i = 0; i < got.size(); ++i) {
        Datagram d = decode_datagram(got[i]);
        CAPTURE(i);
        CHECK(d.sequence == i + 1);
        if (i > 0) CHECK(d.uptime - decode_datagram(got[i - 1]).uptime == 1000u);
    }
}
