#pragma once
// What the no-secrets-in-logs check (tests/check_no_secrets.sh) scans: when
// BERTH_TEST_ARTIFACTS names a directory, test binaries copy their log output to
// <dir>/logs/ and note every secret they see (credentials they send, secrets berthd answers
// with) in <dir>/secrets/. The check then greps every log the suite wrote for every secret.

#include <string>
#include <string_view>

namespace berth::testing {

// <BERTH_TEST_ARTIFACTS>, or "" when the suite does not collect artifacts.
std::string test_artifacts_dir();

// Notes `secret` (ignored when shorter than 12 characters: not a secret berth makes).
void record_secret(std::string_view secret);

// Notes the secrets in an Authorization header value ("Bearer x", "Basic base64(u:p)") and in
// a JSON answer (string members named value, secret, password, token, access_token,
// refresh_token, accessToken).
void record_secrets_of_authorization(std::string_view header_value);
void record_secrets_of_json(std::string_view body);

}  // namespace berth::testing
