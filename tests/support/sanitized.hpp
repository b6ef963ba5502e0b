#pragma once

// Whether this test binary is built with AddressSanitizer or ThreadSanitizer (tools/dev
// sanitize), whose builds run several times slower: tests whose load is a rate or a count take a
// smaller one there.
namespace cvpipe {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
#else
inline constexpr bool kSanitizedBuild = false;
#endif

}  // namespace cvpipe
