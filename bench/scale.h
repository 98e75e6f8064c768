#pragma once

// The scale profile (bench/scale.sh, see bench/README.md "Scale profile"): whether berth's
// per-request costs stay flat as a registry grows to 100,000 repositories and 1,000,000 tags,
// and how berth and the reference registry hold 1,000 concurrent connections.
//
//   berth_loadgen scale populate --target NAME=HOST:PORT:PID --credentials REFRESH_TOKEN_FILE
//       --out FILE --repos R --big-tags B --tags-per-repo K [--from-repos R0]
//       [--from-big-tags B0] [--connections C] [--scopes-per-token S]
//   berth_loadgen scale measure --target NAME=HOST:PORT:PID --credentials REFRESH_TOKEN_FILE
//       --out FILE --repos R --big-tags B --tags-per-repo K [--samples N] [--warmup N]
//       [--connections C] [--scopes-per-token S]
//   berth_loadgen scale connections --target NAME=HOST:PORT:PID ... [--credentials
//       NAME=REFRESH_TOKEN_FILE] --out FILE [--connections C] [--seconds S] [--warmup S]
//       [--reps N] [--blob-size BYTES] [--blobs N]
//   berth_loadgen scale report --step NAME=FILE ... [--connections-in FILE] [--json FILE]
//       [--raw FILE]
//
// The registry's shape: R repositories in all, `scale/big` with B tags (t0000000, ...) and
// `scale/r0000000` ... `scale/r<R-2>` with K tags each (v0 ...), every tag on the same small
// image. populate adds what a registry of (R0, B0) lacks to reach (R, B); its tokens cover
// S repositories each (default 10). measure asks one token per sampled repository (S = 1),
// as clients do, so that the token each request carries is the same size at every step.

#include <string>
#include <vector>

namespace berth::bench {

// `args` follow the word "scale". Returns 0 when every answer was right, 1 when any was wrong,
// 2 on usage errors.
int run_scale(const std::vector<std::string>& args);

}  // namespace berth::bench
