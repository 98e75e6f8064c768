#pragma once

// Pulls with the clients users run (curl, skopeo, containerd's ctr), beside the load
// generator's own client, against every target in alternation. Each client runs as its own
// process; what it downloads is compared byte for byte with the source (curl's output
// streams through a pipe into the load generator; skopeo's directory and containerd's content
// store are read back after the timed part), and its exit status and HTTP status are checked.
//
// The clients authenticate as users do: curl with a Bearer token the load generator fetched
// beforehand (header from a 0600 file), skopeo and ctr by their own token requests with the
// refresh token as password (skopeo from an auth file, ctr from its password prompt on a
// pseudo-terminal). A missing client fails the workload naming it.

#include "workload.h"

namespace berth::bench {

// curl GET of push-large's blob: MB/s and server CPU-s per GB.
void curl_pull(Context& ctx);
// curl Range GET (-r) of 100 MiB [16 MiB] of that blob at an unaligned offset: MB/s.
void curl_range(Context& ctx);
// 32 curl processes started together, each GETting pull-concurrent's blob 2 [1] times on one
// connection: aggregate MB/s and p99 latency per GET.
void curl_concurrent(Context& ctx);
// skopeo copy of an image whose layer is push-large's blob into a directory: MB/s.
void skopeo_pull(Context& ctx);
// ctr content fetch of that image into containerd (--containerd-socket): MB/s.
void ctr_pull(Context& ctx);
// A fresh random blob per repetition and target, pushed (untimed) then pulled with curl: the
// first pull after a push, MB/s.
void first_pull(Context& ctx);

}  // namespace berth::bench
