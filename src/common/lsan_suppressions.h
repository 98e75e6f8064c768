#pragma once
// LeakSanitizer's suppressions for leaks inside the libraries berth uses, compiled into the
// binaries that main() is defined in (berthd and the test binaries), so a sanitizer run needs
// no environment of its own. Only leaks whose every frame of ours is a caller of the library
// belong here, each with the reason.
//
// libpqxx 6.4 (Debian 12): when the server has ended the session, starting a transaction
// (pqxx::transaction_base::direct_exec on BEGIN) throws broken_connection without freeing the
// PGresult libpq gave it. berth then drops the connection and opens a new one (what
// PostgresConnections.BrokenConnectionsAreReplaced tests), so each broken session leaks one
// result of a few hundred bytes. libpq is built without frame pointers, so LeakSanitizer's
// fast unwinder stops inside it and sees libpqxx only as a module: the suppression names the
// module. berth calls libpq only through libpqxx.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __lsan_default_suppressions() {
  return "leak:libpqxx\n";
}
#endif
