/* Helpers shared by pki.c and tls.c on OpenSSL objects; not part of the public API. */
#ifndef YIWANG_PKI_INT_H
#define YIWANG_PKI_INT_H

#include <openssl/x509.h>

#include "yiwang/pki.h"

/* CN (only if it is a valid agent id, else ""), serial, fingerprint and validity of x. */
int yw_pki_x509_info(const X509 *x, struct yw_pki_cert_info *info);
int yw_pki_x509_fingerprint(const X509 *x, char out[YW_FINGERPRINT_SIZE]);
/* PEM of x, NUL-terminated, caller frees with free(); len may be NULL. */
int yw_pki_x509_pem(X509 *x, char **pem, size_t *len);

#endif
