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

// The IANA IPv4 Special-Purpose Address Registry, and the multicast and reserved space above it:
// none of it is an image server on the public internet.
static int ipv4_is_public(const unsigned char *a) {
    if (a[0] == 0 || a[0] == 10 || a[0] == 127) return 0;                  // this network, private, loopback
    if (a[0] == 100 && (a[1] & 0xC0) == 64) return 0;                       // 100.64/10 carrier-grade NAT
    if (a[0] == 169 && a[1] == 254) return 0;                               // link-local, cloud metadata
    if (a[0] == 172 && (a[1] & 0xF0) == 16) return 0;                       // 172.16/12
    if (a[0] == 192 && a[1] == 0 && a[2] == 0) return 0;                    // 192.0.0/24 IETF protocol assignments
    if (a[0] == 192 && a[1] == 0 && a[2] == 2) return 0;                    // TEST-NET-1
    if (a[0] == 192 && a[1] == 31 && a[2] == 196) return 0;                 // AS112-v4
    if (a[0] == 192 && a[1] == 52 && a[2] == 193) return 0;                 // AMT
    if (a[0] == 192 && a[1] == 88 && a[2] == 99) return 0;                  // 6to4 relay anycast
    if (a[0] == 192 && a[1] == 168) return 0;                               // 192.168/16
    if (a[0] == 192 && a[1] == 175 && a[2] == 48) return 0;                 // AS112 direct delegation
    if (a[0] == 198 && (a[1] & 0xFE) == 18) return 0;                       // 198.18/15 benchmarking
    if (a[0] == 198 && a[1] == 51 && a[2] == 100) return 0;                 // TEST-NET-2
    if (a[0] == 203 && a[1] == 0 && a[2] == 113) return 0;                  // TEST-NET-3
    if (a[0] >= 224) return 0;                                              // multicast, reserved, broadcast
    return 1;
}

// IPv6: only global unicast (2000::/3) can be public, which leaves out ::/8 (unspecified,
// loopback, IPv4-mapped and -compatible, SIIT), 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64),
// 100::/64 (discard), fc00::/7, fe80::/10, fec0::/10 and ff00::/8. Inside 2000::/3 the IANA
// IPv6 Special-Purpose Address Registry's blocks are refused too; 6to4 is judged by the IPv4
// address it embeds.
static int ipv6_is_public(const unsigned char *a) {
    static const unsigned char mapped[12] = {0,0,0,0,0,0,0,0,0,0,0xFF,0xFF};
    if (memcmp(a, mapped, 12) == 0) return ipv4_is_public(a + 12);         // ::ffff:a.b.c.d is that IPv4 address
    if ((a[0] & 0xE0) != 0x20) return 0;                                    // outside 2000::/3
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] < 0x02) return 0;              // 2001::/23 IETF (Teredo, ORCHID, benchmarking…)
    if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0x0D && a[3] == 0xB8) return 0; // 2001:db8::/32 documentation
    if (a[0] == 0x20 && a[1] == 0x02) return ipv4_is_public(a + 2);         // 2002::/16 6to4
    if (a[0] == 0x26 && a[1] == 0x20 && a[2] == 0x00 && a[3] == 0x4F && a[4] == 0x80 && a[5] == 0x00) return 0; // AS112
    if (a[0] == 0x3F && a[1] == 0xFF && (a[2] & 0xF0) == 0) return 0;       // 3fff::/20 documentation
    return 1;
}

int hs_address_is_public(const unsigned char *a, size_t length) {
    if (length == 4) return ipv4_is_public(a);
    if (length == 16) return ipv6_is_public(a);
    return 0;
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
