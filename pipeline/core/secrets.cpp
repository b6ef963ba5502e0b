#include "pipeline/core/secrets.hpp"

#include <algorithm>
#include <array>
#include <cctype>

namespace cvpipe {
namespace {

constexpr std::string_view kMask = "***";

// Query parameter names that hold secrets, or parts of such names, lower case.
constexpr std::array<std::string_view, 10> kSecretNameParts = {"pass", "pwd", "secret", "token", "key",
                                                               "auth", "sig", "credential", "session", "cookie"};

bool is_host_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_' || c == ':' || c == '[' ||
         c == ']' || c == '%';
}

bool secret_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return std::any_of(kSecretNameParts.begin(), kSecretNameParts.end(),
                     [&](std::string_view part) { return lower.find(part) != std::string::npos; });
}

// Where the userinfo of the URL whose authority starts at `start` ends (its '@'), or npos. The
// last '@' after which a plausible host runs to the path, query or end: a password may hold '@',
// '/' or ':', a host none of them but the port's colon.
std::size_t userinfo_end(std::string_view url, std::size_t start) {
  std::size_t found = std::string_view::npos;
  for (std::size_t at = url.find('@', start); at != std::string_view::npos; at = url.find('@', at + 1)) {
    std::size_t i = at + 1;
    while (i < url.size() && is_host_char(url[i])) ++i;
    const bool host_ends_well = i == url.size() || url[i] == '/' || url[i] == '?' || url[i] == '#';
    if (i > at + 1 && host_ends_well) found = at;
  }
  return found;
}

// Masks secret-looking parameters in the query that starts at `query` (after the '?').
void mask_query(std::string& url, std::size_t query) {
  std::size_t i = query;
  while (i < url.size()) {
    std::size_t end = url.find_first_of("&;#", i);
    if (end == std::string::npos) end = url.size();
    const std::size_t eq = url.find('=', i);
    if (eq != std::string::npos && eq < end && secret_name(std::string_view(url).substr(i, eq - i)) &&
        end > eq + 1) {
      url.replace(eq + 1, end - eq - 1, kMask);
      end = eq + 1 + kMask.size();
    }
    if (end >= url.size() || url[end] == '#') break;
    i = end + 1;
  }
}

}  // namespace

std::string mask_url(std::string_view url) {
  const std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return std::string(url);
  const std::size_t start = scheme + 3;
  std::string out(url);
  std::size_t host = start;  // where the host starts in `out`
  if (const std::size_t at = userinfo_end(url, start); at != std::string_view::npos) {
    const std::size_t colon = url.find(':', start);
    // "user:***" where the userinfo names a user and a password; a bare token goes whole.
    const std::size_t keep = colon != std::string_view::npos && colon < at ? colon + 1 : start;
    out = std::string(url.substr(0, keep)) + std::string(kMask) + std::string(url.substr(at));
    host = keep + kMask.size() + 1;
  }
  if (const std::size_t query = out.find('?', host); query != std::string::npos) mask_query(out, query + 1);
  return out;
}

std::string mask_secrets_in_text(std::string_view text) {
  std::string out;
  std::size_t done = 0;  // text before this is in `out`
  std::size_t scheme = text.find("://");
  while (scheme != std::string_view::npos) {
    // The scheme's letters before "://".
    std::size_t begin = scheme;
    while (begin > done && (std::isalnum(static_cast<unsigned char>(text[begin - 1])) || text[begin - 1] == '+' ||
                            text[begin - 1] == '-' || text[begin - 1] == '.'))
      --begin;
    std::size_t end = scheme + 3;
    if (begin < scheme) {
      while (end < text.size() && !std::isspace(static_cast<unsigned char>(text[end])) && text[end] != '"' &&
             text[end] != '\'' && text[end] != '<' && text[end] != '>')
        ++end;
      out.append(text.substr(done, begin - done));
      out += mask_url(text.substr(begin, end - begin));
      done = end;
    }
    scheme = text.find("://", end);
  }
  out.append(text.substr(done));
  return out;
}

}  // namespace cvpipe
