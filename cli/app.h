#pragma once
// The berth command line: every verb and its flags, declared in app.cc.
//
// run() is main() without the process: arguments, environment, streams and the HTTP transport
// come in, the exit code goes out, so tests drive the whole tool in-process. On success the
// output goes to `out`; on failure exactly one line "berth: <message>" goes to `err` and
// nothing to `out`. A command that ran but could not do all of it (a purge that could not
// delete some items) prints its output, then one "berth: " line per failure, and exits 1.

#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include "cli/config_store.h"
#include "cli/http_client.h"

namespace berth::cli {

using TransportFactory = std::function<std::unique_ptr<HttpTransport>()>;

// `args` includes the program name, as argv does. A verb that waits for a job on the server
// (`import`, `gc run --wait`) writes its progress to `err` before its output or its one error
// line: a line rewritten in place when `err_is_terminal`, else (import) plain lines.
int run(const std::vector<std::string>& args, const Environment& env,
        const TransportFactory& make_transport, std::ostream& out, std::ostream& err,
        std::istream& in, bool err_is_terminal = false);

}  // namespace berth::cli
