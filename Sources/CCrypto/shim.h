// OpenSSL's libcrypto (already on every machine libcurl runs on): HMAC for webhook signatures.
#include <openssl/hmac.h>
#include <openssl/evp.h>
