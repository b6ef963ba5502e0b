#pragma once
// Masking what must not leave the process: the credentials in URLs (a camera's rtsp://user:pass@...)
// and secret-looking query parameters (?token=...). Everything cvpipe shows (the HTTP endpoint's
// config and status page, logs, errors) goes through these; a value that came from a secret
// source (!env, !file in a config) is hidden whole before that.
//
// Pure functions; thread-safe; allocate.
#include <string>
#include <string_view>

namespace cvpipe {

// `url` (a whole value, such as a config's url key) with its userinfo masked, whatever characters
// the password holds ("rtsp://admin:p@ss/w@cam/x" -> "rtsp://admin:***@cam/x"; a userinfo with no
// colon, a bare token, goes whole: "rtsp://***@cam/x"), and the values of query parameters whose
// names look secret (password, token, key, auth, sig, secret, session, credential...) replaced by
// ***. A text without "://" comes back unchanged.
std::string mask_url(std::string_view url);

// The same for every URL inside free text (a log line, an error message): each runs from its
// scheme to the next white space, quote or angle bracket.
std::string mask_secrets_in_text(std::string_view text);

}  // namespace cvpipe
