#ifndef LIFEBOAT_CCURL_SHIM_H
#define LIFEBOAT_CCURL_SHIM_H
#include <curl/curl.h>

// curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call. These typed wrappers can be.

/// Sets a `long` option on an easy handle.
static inline CURLcode lifeboat_curl_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets a pointer option (strings, header lists, user data) on an easy handle.
static inline CURLcode lifeboat_curl_setopt_ptr(CURL *handle, CURLoption option, const void *value) {
    return curl_easy_setopt(handle, option, value);
}

/// Sets a `curl_off_t` option (an upload's size) on an easy handle.
static inline CURLcode lifeboat_curl_setopt_off(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

/// Reads a `long` piece of information (e.g. the HTTP status) from an easy handle.
static inline CURLcode lifeboat_curl_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}
#endif
