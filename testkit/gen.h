// gen.h — synthetic hsflowd traffic: N hypervisor hosts × M VMs each, polled for R rounds.
// Pure: options in, datagrams (and optionally the expected decode) out. Used by sflow-gen
// (tools/sflow_gen.cpp, which sends or writes them) and reusable by benchmarks.
// What is generated, and why: docs/sflow-gen.md.
//
// Caveats:
//  - Deterministic: the same GenOptions give byte-identical datagrams on every platform
//    (a private splitmix64 generator, no std:: distributions, no clock).
//  - Records are encoded by DatagramBuilder from the record structs (encode.h); their wire
//    order is hsflowd's (2000 last). Samples of one agent and round are packed, hsflowd-like,
//    into datagrams of at most kMaxDatagram bytes.
//  - generate() throws std::invalid_argument with a readable message for impossible options
//    (zero hosts, --migrate with fewer than 2 hosts, an address range that overflows, ...).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sflow_monitor/sflow.h"

namespace sfm {

constexpr size_t kMaxDatagram = 1400;      // hsflowd's default datagram size limit
constexpr uint32_t kGenSubAgent = 100001;  // counters-only hsflowd

struct GenOptions {
    uint32_t hosts = 3;
    uint32_t vms = 2;            // per host
    uint32_t rounds = 10;
    uint32_t interval_ms = 5000;
    uint64_t seed = 1;
    Address agent_base = *Address::parse("10.0.0.1");  // host h (0-based) is base + h
    bool start_near_wrap = false;  // 32-bit counters start about 2.5 rounds before wrapping
    bool migrate = false;          // VM 1 of host 1 moves to host 2 at round rounds/2
    bool expect = false;           // also fill GenResult::expect
    int64_t start_us = 1767225600000000;  // capture time of round 0 (2026-01-01T00:00:00Z)
};

struct GenDatagram {
    std::string bytes;      // the sFlow datagram
    uint32_t host = 0;      // index of the sending agent (0-based)
    Address agent;          // as written in the datagram
    uint32_t sequence = 0;  // datagram sequence number (per agent, from 1)
    uint32_t uptime = 0;    // ms
    int64_t ts_us = 0;      // when a real agent would have sent it
};

struct GenResult {
    std::vector<GenDatagram> datagrams;  // in send order: round, then agent
    std::vector<uint32_t> per_host;      // datagrams per agent
    // One JSON object per sample in send order (see docs/sflow-gen.md); empty unless
    // GenOptions::expect.
    std::vector<std::string> expect;
};

GenResult generate(const GenOptions& opts);

}  // namespace sfm
