#ifndef COPENSSL_SHIM_H
#define COPENSSL_SHIM_H
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/crypto.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

/* Copies a memory BIO's contents into a malloc'ed buffer the caller frees. */
static inline int c_manta_bio_copy(BIO *bio, unsigned char **out, size_t *out_length) {
    char *data = NULL;
    long length = BIO_get_mem_data(bio, &data);
    if (length <= 0) return 0;
    *out = malloc((size_t)length);
    if (*out == NULL) return 0;
    memcpy(*out, data, (size_t)length);
    *out_length = (size_t)length;
    return 1;
}

static inline int c_manta_add_extension(X509 *certificate, int nid, const char *value) {
    X509V3_CTX context;
    X509V3_set_ctx_nodb(&context);
    X509V3_set_ctx(&context, certificate, certificate, NULL, NULL, 0);
    X509_EXTENSION *extension = X509V3_EXT_conf_nid(NULL, &context, nid, value);
    if (extension == NULL) return 0;
    int added = X509_add_ext(certificate, extension, -1);
    X509_EXTENSION_free(extension);
    return added;
}

/* A self-signed P-256 certificate (PEM) and its PKCS#8 key (PEM) for `common_name`, valid for `alternative_names`
   (an X.509v3 subjectAltName value such as "DNS:localhost,IP:127.0.0.1") from an hour ago for `days` days.
   Returns 1 and two malloc'ed buffers, or 0. The variadic and macro parts of OpenSSL's API stay on this side. */
static inline int c_manta_self_signed_certificate(
    const char *common_name, const char *alternative_names, long days,
    unsigned char **certificate_pem, size_t *certificate_length, unsigned char **key_pem, size_t *key_length
) {
    int ok = 0;
    EVP_PKEY *key = NULL;
    X509 *certificate = NULL;
    BIGNUM *serial = NULL;
    BIO *certificate_bio = NULL, *key_bio = NULL;
    unsigned char serial_bytes[16];
    *certificate_pem = NULL;
    *key_pem = NULL;

    EVP_PKEY_CTX *key_context = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
    if (key_context == NULL || EVP_PKEY_keygen_init(key_context) <= 0
        || EVP_PKEY_CTX_set_ec_paramgen_curve_nid(key_context, NID_X9_62_prime256v1) <= 0
        || EVP_PKEY_keygen(key_context, &key) <= 0) goto done;
    certificate = X509_new();
    if (certificate == NULL || !X509_set_version(certificate, 2)) goto done;
    if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) goto done;
    serial_bytes[0] &= 0x7f;
    serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, NULL);
    if (serial == NULL || BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate)) == NULL) goto done;
    if (X509_gmtime_adj(X509_getm_notBefore(certificate), -3600) == NULL
        || X509_time_adj_ex(X509_getm_notAfter(certificate), (int)days, 0, NULL) == NULL) goto done;
    if (!X509_set_pubkey(certificate, key)) goto done;
    X509_NAME *name = X509_get_subject_name(certificate);
    if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)common_name, -1, -1, 0)
        || !X509_set_issuer_name(certificate, name)) goto done;
    if (!c_manta_add_extension(certificate, NID_basic_constraints, "critical,CA:TRUE")
        || !c_manta_add_extension(certificate, NID_key_usage, "critical,digitalSignature,keyCertSign")
        || !c_manta_add_extension(certificate, NID_ext_key_usage, "serverAuth")
        || !c_manta_add_extension(certificate, NID_subject_alt_name, alternative_names)) goto done;
    if (X509_sign(certificate, key, EVP_sha256()) <= 0) goto done;
    certificate_bio = BIO_new(BIO_s_mem());
    key_bio = BIO_new(BIO_s_mem());
    if (certificate_bio == NULL || key_bio == NULL
        || !PEM_write_bio_X509(certificate_bio, certificate)
        || !PEM_write_bio_PrivateKey(key_bio, key, NULL, NULL, 0, NULL, NULL)) goto done;
    if (!c_manta_bio_copy(certificate_bio, certificate_pem, certificate_length)
        || !c_manta_bio_copy(key_bio, key_pem, key_length)) goto done;
    ok = 1;
done:
    if (!ok) {
        free(*certificate_pem);
        free(*key_pem);
        *certificate_pem = NULL;
        *key_pem = NULL;
    }
    BIO_free(certificate_bio);
    BIO_free(key_bio);
    BN_free(serial);
    X509_free(certificate);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(key_context);
    return ok;
}
#endif
