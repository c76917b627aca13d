#include "CHalfsizeShims.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

CURLcode hs_curl_set_long(CURL *easy, CURLoption option, long value) { return curl_easy_setopt(easy, option, value); }
CURLcode hs_curl_set_string(CURL *easy, CURLoption option, const char *value) { return curl_easy_setopt(easy, option, value); }
CURLcode hs_curl_set_pointer(CURL *easy, CURLoption option, void *value) { return curl_easy_setopt(easy, option, value); }
CURLcode hs_curl_set_offset(CURL *easy, CURLoption option, curl_off_t value) { return curl_easy_setopt(easy, option, value); }
CURLcode hs_curl_set_write_function(CURL *easy, size_t (*function)(char *, size_t, size_t, void *), void *userdata) {
    CURLcode code = curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, function);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(easy, CURLOPT_WRITEDATA, userdata);
}
CURLcode hs_curl_get_long(CURL *easy, CURLINFO info, long *value) { return curl_easy_getinfo(easy, info, value); }
CURLcode hs_curl_get_string(CURL *easy, CURLINFO info, const char **value) { return curl_easy_getinfo(easy, info, value); }
CURLMcode hs_curlm_set_long(CURLM *multi, CURLMoption option, long value) { return curl_multi_setopt(multi, option, value); }

static int ipv4_is_public(const unsigned char *a) {
    if (a[0] == 0 || a[0] == 10 || a[0] == 127) return 0;                  // this network, private, loopback
    if (a[0] == 100 && (a[1] & 0xC0) == 64) return 0;                       // 100.64/10 carrier-grade NAT
    if (a[0] == 169 && a[1] == 254) return 0;                               // link-local, cloud metadata
    if (a[0] == 172 && (a[1] & 0xF0) == 16) return 0;                       // 172.16/12
    if (a[0] == 192 && a[1] == 0 && a[2] == 0) return 0;                    // 192.0.0/24 IETF
    if (a[0] == 192 && a[1] == 0 && a[2] == 2) return 0;                    // TEST-NET-1
    if (a[0] == 192 && a[1] == 168) return 0;                               // 192.168/16
    if (a[0] == 198 && (a[1] & 0xFE) == 18) return 0;                       // 198.18/15 benchmarking
    if (a[0] == 198 && a[1] == 51 && a[2] == 100) return 0;                 // TEST-NET-2
    if (a[0] == 203 && a[1] == 0 && a[2] == 113) return 0;                  // TEST-NET-3
    if (a[0] >= 224) return 0;                                              // multicast, reserved, broadcast
    return 1;
}

int hs_address_is_public(const unsigned char *a, size_t length) {
    if (length == 4) return ipv4_is_public(a);
    if (length != 16) return 0;
    static const unsigned char mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xFF,0xFF};
    static const unsigned char nat64[12] = {0,0x64,0xFF,0x9B,0,0,0,0,0,0,0,0};
    if (memcmp(a, mapped, 12) == 0 || memcmp(a, nat64, 12) == 0) return ipv4_is_public(a + 12);
    int zero_prefix = 1;
    for (int i = 0; i < 15; i++) if (a[i] != 0) { zero_prefix = 0; break; }
    if (zero_prefix) return 0;                                              // :: and ::1
    if ((a[0] & 0xFE) == 0xFC) return 0;                                    // fc00::/7 unique local
    if (a[0] == 0xFE && (a[1] & 0xC0) == 0x80) return 0;                    // fe80::/10 link-local
    if (a[0] == 0xFF) return 0;                                             // multicast
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) return 0; // documentation
    return 1;
}

static curl_socket_t guarded_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *address) {
    hs_address_guard *guard = clientp;
    (void)purpose;
    if (!guard->allow_private) {
        const unsigned char *bytes = NULL;
        size_t length = 0;
        if (address->family == AF_INET) {
            bytes = (const unsigned char *)&((struct sockaddr_in *)&address->addr)->sin_addr;
            length = 4;
        } else if (address->family == AF_INET6) {
            bytes = (const unsigned char *)&((struct sockaddr_in6 *)&address->addr)->sin6_addr;
            length = 16;
        }
        if (bytes == NULL || !hs_address_is_public(bytes, length)) {
            guard->blocked = 1;
            if (bytes != NULL) inet_ntop(address->family, bytes, guard->blocked_address, sizeof guard->blocked_address);
            else snprintf(guard->blocked_address, sizeof guard->blocked_address, "family %d", address->family);
            return CURL_SOCKET_BAD;
        }
    }
    return socket(address->family, address->socktype, address->protocol);
}

CURLcode hs_curl_install_address_guard(CURL *easy, hs_address_guard *guard) {
    CURLcode code = curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, guarded_open_socket);
    if (code != CURLE_OK) return code;
    return curl_easy_setopt(easy, CURLOPT_OPENSOCKETDATA, guard);
}

void hs_free(void *pointer) { free(pointer); }
