/* The server's CA and the certificates it issues; the agent's key, CSR and stored identity. */
#include <limits.h>
#include "yw_limits.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "yiwang/error.h"
#include "yiwang/fsutil.h"
#include "yiwang/pki.h"
#include "pki_int.h"

_Static_assert(YW_AGENT_ID_SIZE == YW_MAX_AGENT_ID + 1, "agent id buffer size");

/* A server certificate closer than this to expiry is reissued at start. */
#define RENEW_BEFORE_DAYS 30
/* Certificates start a little in the past so peers with a slow clock accept them. */
#define BACKDATE_SECONDS 300

enum cert_kind { CERT_CA, CERT_SERVER, CERT_AGENT };

struct yw_pki_ca {
	X509 *cert;
	EVP_PKEY *key;
	char *pem;
	char fingerprint[YW_FINGERPRINT_SIZE];
};

struct yw_pki_key {
	EVP_PKEY *pkey;
};

static void set_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsz, const char *fmt, ...)
{
	if (!err || errsz == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* Adds OpenSSL's reason for the latest failure and clears the thread's error queue. */
static void set_err_ossl(char *err, size_t errsz, const char *what)
{
	char reason[256] = "no detail";
	unsigned long e = ERR_peek_last_error();
	if (e)
		ERR_error_string_n(e, reason, sizeof(reason));
	ERR_clear_error();
	set_err(err, errsz, "%s: %s", what, reason);
}

static int join(char *out, size_t outsz, const char *dir, const char *name)
{
	int n = snprintf(out, outsz, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= outsz ? YW_ELIMIT : 0;
}

static int ensure_dir(const char *dir, char *err, size_t errsz)
{
	if (mkdir(dir, 0700) == 0 || errno == EEXIST)
		return 0;
	set_err(err, errsz, "%s: %s", dir, strerror(errno));
	return YW_EIO;
}

static void free_secret(char *p, size_t len)
{
	if (p) {
		OPENSSL_cleanse(p, len);
		free(p);
	}
}

/* Reads a whole small file. A private key must not be accessible to group or others. */
static int read_file(const char *path, bool secret, char **data, size_t *len, char *err,
                     size_t errsz)
{
	struct stat st;
	int rc = YW_EIO;
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		set_err(err, errsz, "%s: %s", path, strerror(errno));
		return errno == ENOENT ? YW_ENOENT : YW_EIO;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		set_err(err, errsz, "%s: not a regular file", path);
		goto out;
	}
	if (secret && (st.st_mode & 077)) {
		set_err(err, errsz,
		        "%s: mode %04o gives others access to a private key (want 0600)", path,
		        (unsigned)(st.st_mode & 07777));
		rc = YW_EINVAL;
		goto out;
	}
	if (st.st_size > YW_MAX_PKI_FILE) {
		set_err(err, errsz, "%s: larger than %d bytes", path, YW_MAX_PKI_FILE);
		rc = YW_ELIMIT;
		goto out;
	}
	size_t cap = (size_t)st.st_size, n = 0;
	buf = malloc(cap + 1);
	if (!buf) {
		rc = YW_ENOMEM;
		goto out;
	}
	while (n < cap) {
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			set_err(err, errsz, "%s: short read", path);
			goto out;
		}
		n += (size_t)r;
	}
	buf[n] = '\0';
	*data = buf;
	*len = n;
	buf = NULL;
	rc = 0;
out:
	if (buf)
		free_secret(buf, (size_t)st.st_size + 1);
	close(fd);
	return rc;
}

/* Never prompt for a pass phrase: our keys are unencrypted, anything else is an error. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

static int load_key(const char *path, EVP_PKEY **out, char *err, size_t errsz)
{
	char *data = NULL;
	size_t len = 0;
	int rc = read_file(path, true, &data, &len, err, errsz);
	if (rc)
		return rc;
	BIO *bio = BIO_new_mem_buf(data, (int)len);
	EVP_PKEY *k = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	free_secret(data, len);
	if (!k) {
		char what[PATH_MAX + 32];
		snprintf(what, sizeof(what), "%s: not a PEM private key", path);
		set_err_ossl(err, errsz, what);
		return YW_EPARSE;
	}
	*out = k;
	return 0;
}

static X509 *parse_cert(const char *pem, size_t len)
{
	if (len > YW_MAX_PKI_FILE)
		return NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	return x;
}

static int load_cert(const char *path, X509 **out, char *err, size_t errsz)
{
	char *data = NULL;
	size_t len = 0;
	int rc = read_file(path, false, &data, &len, err, errsz);
	if (rc)
		return rc;
	X509 *x = parse_cert(data, len);
	free(data);
	if (!x) {
		char what[PATH_MAX + 32];
		snprintf(what, sizeof(what), "%s: not a PEM certificate", path);
		set_err_ossl(err, errsz, what);
		return YW_EPARSE;
	}
	*out = x;
	return 0;
}

/* The key's PEM lives only in OpenSSL's secure-heap BIO, which clears it when freed. */
static int write_key(const char *path, EVP_PKEY *key, char *err, size_t errsz)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *p = NULL;
	int rc = YW_ENOMEM;
	if (!bio || !PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		set_err_ossl(err, errsz, "encoding private key");
		goto out;
	}
	long n = BIO_get_mem_data(bio, &p);
	rc = yw_pki_write_file(path, p, (size_t)n, 0600);
	if (rc)
		set_err(err, errsz, "%s: %s", path, strerror(errno));
out:
	BIO_free(bio);
	return rc;
}

/* PEM text of a certificate, NUL-terminated, caller frees. */
int yw_pki_x509_pem(X509 *x, char **pem, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *p = NULL;
	int rc = YW_ENOMEM;
	if (!bio || !PEM_write_bio_X509(bio, x))
		goto out;
	long n = BIO_get_mem_data(bio, &p);
	char *copy = malloc((size_t)n + 1);
	if (!copy)
		goto out;
	memcpy(copy, p, (size_t)n);
	copy[n] = '\0';
	*pem = copy;
	if (len)
		*len = (size_t)n;
	rc = 0;
out:
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

static int write_cert(const char *path, X509 *x, mode_t mode, char *err, size_t errsz)
{
	char *pem = NULL;
	size_t len = 0;
	int rc = yw_pki_x509_pem(x, &pem, &len);
	if (rc == 0) {
		rc = yw_pki_write_file(path, pem, len, mode);
		if (rc)
			set_err(err, errsz, "%s: %s", path, strerror(errno));
	}
	free(pem);
	return rc;
}

static void hex(const unsigned char *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = '\0';
}

int yw_pki_x509_fingerprint(const X509 *x, char out[YW_FINGERPRINT_SIZE])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32)
		return YW_ENOMEM;
	memcpy(out, "sha256:", 7);
	hex(md, n, out + 7);
	return 0;
}

static int serial_hex(const X509 *x, char out[YW_SERIAL_SIZE])
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	int rc = YW_EINVAL;
	out[0] = '\0';
	if (!bn)
		return YW_ENOMEM;
	/* RFC 5280 allows 20 octets; longer ones are not from us and do not fit. */
	int nbytes = BN_num_bytes(bn);
	unsigned char raw[20];
	if (!BN_is_negative(bn) && nbytes <= (int)sizeof(raw)) {
		BN_bn2bin(bn, raw);
		hex(raw, (size_t)nbytes, out);
		/* No leading zero nibble, so every serial has one spelling. */
		if (out[0] == '0')
			memmove(out, out + 1, strlen(out));
		if (nbytes == 0)
			strcpy(out, "0");
		rc = 0;
	}
	BN_free(bn);
	return rc;
}

bool yw_pki_agent_id_valid(const char *id)
{
	size_t n = strnlen(id, YW_MAX_AGENT_ID + 1);
	if (n == 0 || n > YW_MAX_AGENT_ID || id[0] == '.' || id[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* The subject CN, when it is one printable agent-id-shaped string; "" otherwise. */
static void common_name(const X509 *x, char out[YW_AGENT_ID_SIZE])
{
	const X509_NAME *name = X509_get_subject_name(x);
	out[0] = '\0';
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	if (i < 0 || X509_NAME_get_index_by_NID(name, NID_commonName, i) >= 0)
		return;
	const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
	int n = ASN1_STRING_length(s);
	if (n <= 0 || n > YW_MAX_AGENT_ID)
		return;
	char tmp[YW_AGENT_ID_SIZE];
	memcpy(tmp, ASN1_STRING_get0_data(s), (size_t)n);
	tmp[n] = '\0';
	if (strlen(tmp) == (size_t)n && yw_pki_agent_id_valid(tmp))
		memcpy(out, tmp, (size_t)n + 1);
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm);
}

int yw_pki_x509_info(const X509 *x, struct yw_pki_cert_info *info)
{
	memset(info, 0, sizeof(*info));
	common_name(x, info->common_name);
	int rc = serial_hex(x, info->serial);
	if (rc == 0)
		rc = yw_pki_x509_fingerprint(x, info->fingerprint);
	info->not_before = asn1_unix(X509_get0_notBefore(x));
	info->not_after = asn1_unix(X509_get0_notAfter(x));
	return rc;
}

static EVP_PKEY *new_key(void)
{
	return EVP_EC_gen("P-256");
}

static bool is_p256(EVP_PKEY *k)
{
	char group[64];
	size_t n = 0;
	if (!EVP_PKEY_is_a(k, "EC") || EVP_PKEY_get_group_name(k, group, sizeof(group), &n) != 1)
		return false;
	return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (!ext)
		return YW_EINVAL;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : YW_ENOMEM;
}

static bool is_ip(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static bool dns_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 253 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-'))
			return false;
	}
	return true;
}

/* subjectAltName built as a structure, not a config string, so a name cannot inject syntax. */
static int add_san(X509 *x, const char *const *names, size_t n)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rc = YW_ENOMEM;
	if (!gens)
		return rc;
	for (size_t i = 0; i < n; i++) {
		GENERAL_NAME *gn = GENERAL_NAME_new();
		if (!gn)
			goto out;
		if (is_ip(names[i])) {
			ASN1_OCTET_STRING *ip = a2i_IPADDRESS(names[i]);
			if (!ip) {
				GENERAL_NAME_free(gn);
				rc = YW_EINVAL;
				goto out;
			}
			GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
		} else {
			ASN1_IA5STRING *dns = ASN1_IA5STRING_new();
			if (!dns || !ASN1_STRING_set(dns, names[i], (int)strlen(names[i]))) {
				ASN1_IA5STRING_free(dns);
				GENERAL_NAME_free(gn);
				goto out;
			}
			GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
		}
		if (!sk_GENERAL_NAME_push(gens, gn)) {
			GENERAL_NAME_free(gn);
			goto out;
		}
	}
	rc = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1
	         ? 0
	         : YW_ENOMEM;
out:
	GENERAL_NAMES_free(gens);
	return rc;
}

static int random_serial(X509 *x)
{
	unsigned char raw[16];
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return YW_EIO;
	/* Positive (top bit clear) and always 16 bytes long (next bit set). */
	raw[0] = (unsigned char)((raw[0] & 0x7f) | 0x40);
	BIGNUM *bn = BN_bin2bn(raw, sizeof(raw), NULL);
	ASN1_INTEGER *ai = bn ? BN_to_ASN1_INTEGER(bn, NULL) : NULL;
	int ok = ai && X509_set_serialNumber(x, ai);
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return ok ? 0 : YW_ENOMEM;
}

/* A certificate for pub, signed by issuer_key (self-signed when issuer is NULL). */
static X509 *make_cert(enum cert_kind kind, const char *cn, EVP_PKEY *pub, X509 *issuer,
                       EVP_PKEY *issuer_key, int days, const char *const *sans, size_t n_sans)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	int ok = x && name && X509_set_version(x, X509_VERSION_3) && random_serial(x) == 0 &&
	         X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                    (const unsigned char *)cn, -1, -1, 0) &&
	         X509_set_subject_name(x, name) &&
	         X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) &&
	         X509_gmtime_adj(X509_getm_notBefore(x), -BACKDATE_SECONDS) &&
	         X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) && X509_set_pubkey(x, pub);
	if (ok)
		ok = add_ext(x, issuer, NID_subject_key_identifier, "hash") == 0 &&
		     add_ext(x, issuer, NID_authority_key_identifier, "keyid:always") == 0;
	if (ok) {
		switch (kind) {
		case CERT_CA:
			ok = add_ext(x, NULL, NID_basic_constraints,
			             "critical,CA:TRUE,pathlen:0") == 0 &&
			     add_ext(x, NULL, NID_key_usage, "critical,keyCertSign,cRLSign") == 0;
			break;
		case CERT_SERVER:
		case CERT_AGENT:
			ok = add_ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE") == 0 &&
			     add_ext(x, issuer, NID_key_usage, "critical,digitalSignature") == 0 &&
			     add_ext(x, issuer, NID_ext_key_usage,
			             kind == CERT_SERVER ? "serverAuth" : "clientAuth") == 0;
			break;
		}
	}
	if (ok && n_sans)
		ok = add_san(x, sans, n_sans) == 0;
	if (ok)
		ok = X509_sign(x, issuer_key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

void yw_pki_ca_free(struct yw_pki_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key); /* OpenSSL clears EC private key material when freeing */
	free(ca->pem);
	free(ca);
}

const char *yw_pki_ca_fingerprint(const struct yw_pki_ca *ca)
{
	return ca->fingerprint;
}

const char *yw_pki_ca_pem(const struct yw_pki_ca *ca)
{
	return ca->pem;
}

static bool file_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

int yw_pki_ca_load_or_create(const char *dir, int days, struct yw_pki_ca **out, char *err,
                             size_t errsz)
{
	char kpath[PATH_MAX], cpath[PATH_MAX];
	int rc;
	struct yw_pki_ca *ca = calloc(1, sizeof(*ca));
	if (!ca)
		return YW_ENOMEM;
	if ((rc = join(kpath, sizeof(kpath), dir, YW_PKI_CA_KEY)) ||
	    (rc = join(cpath, sizeof(cpath), dir, YW_PKI_CA_CERT)))
		goto out;
	if ((rc = ensure_dir(dir, err, errsz)))
		goto out;
	bool have_key = file_exists(kpath), have_cert = file_exists(cpath);
	if (have_key != have_cert) {
		/* Agents pin this CA: never replace half of it behind the operator's back. */
		set_err(err, errsz, "%s exists without %s: restore the missing file or remove both",
		        have_key ? kpath : cpath, have_key ? cpath : kpath);
		rc = YW_EINVAL;
		goto out;
	}
	if (have_key) {
		if ((rc = load_key(kpath, &ca->key, err, errsz)) ||
		    (rc = load_cert(cpath, &ca->cert, err, errsz)))
			goto out;
		if (X509_check_private_key(ca->cert, ca->key) != 1 || X509_check_ca(ca->cert) < 1) {
			set_err_ossl(err, errsz, "CA key and certificate do not form a CA");
			rc = YW_EINVAL;
			goto out;
		}
	} else {
		char host[256] = "";
		char cn[YW_MAX_AGENT_ID + 1];
		if (gethostname(host, sizeof(host) - 1) != 0 || !dns_name_ok(host))
			strcpy(host, "localhost");
		snprintf(cn, sizeof(cn), "yiwang CA %.40s", host);
		ca->key = new_key();
		if (ca->key)
			ca->cert = make_cert(CERT_CA, cn, ca->key, NULL, ca->key,
			                     days > 0 ? days : YW_PKI_CA_DAYS, NULL, 0);
		if (!ca->cert) {
			set_err_ossl(err, errsz, "creating the CA");
			rc = YW_ENOMEM;
			goto out;
		}
		/* The certificate goes first: a crash in between leaves a cert without key,
		 * which no agent can have pinned yet. */
		if ((rc = write_cert(cpath, ca->cert, 0644, err, errsz)) ||
		    (rc = write_key(kpath, ca->key, err, errsz)))
			goto out;
	}
	if ((rc = yw_pki_x509_fingerprint(ca->cert, ca->fingerprint)) ||
	    (rc = yw_pki_x509_pem(ca->cert, &ca->pem, NULL)))
		goto out;
	*out = ca;
	ca = NULL;
out:
	yw_pki_ca_free(ca);
	ERR_clear_error();
	return rc;
}

static bool issued_by(X509 *x, const struct yw_pki_ca *ca)
{
	EVP_PKEY *capub = X509_get0_pubkey(ca->cert);
	return X509_check_issued(ca->cert, x) == X509_V_OK && capub && X509_verify(x, capub) == 1;
}

static bool server_pair_ok(const struct yw_pki_ca *ca, const char *kpath, const char *cpath,
                           const char *const *names, size_t n)
{
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	bool ok = false;
	int pday = 0, psec = 0;
	if (load_key(kpath, &key, NULL, 0) || load_cert(cpath, &x, NULL, 0))
		goto out;
	if (X509_check_private_key(x, key) != 1 || !issued_by(x, ca))
		goto out;
	if (!ASN1_TIME_diff(&pday, &psec, NULL, X509_get0_notAfter(x)) || pday < RENEW_BEFORE_DAYS)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int m = is_ip(names[i])
		            ? X509_check_ip_asc(x, names[i], 0)
		            : X509_check_host(x, names[i], 0, X509_CHECK_FLAG_NO_WILDCARDS, NULL);
		if (m != 1)
			goto out;
	}
	ok = true;
out:
	EVP_PKEY_free(key);
	X509_free(x);
	ERR_clear_error();
	return ok;
}

int yw_pki_server_cert_ensure(const struct yw_pki_ca *ca, const char *dir, const char *const *names,
                              size_t n_names, int days, bool *reissued, char *err, size_t errsz)
{
	char kpath[PATH_MAX], cpath[PATH_MAX], host[256] = "";
	const char *defaults[4] = {"localhost", "127.0.0.1", "::1", NULL};
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc;
	if (reissued)
		*reissued = false;
	if (!names) {
		names = defaults;
		n_names = 3;
		if (gethostname(host, sizeof(host) - 1) == 0 && dns_name_ok(host) &&
		    strcmp(host, "localhost") != 0)
			defaults[n_names++] = host;
	}
	if (n_names == 0 || n_names > YW_MAX_SAN_NAMES) {
		set_err(err, errsz, "server certificate needs 1 to %d names", YW_MAX_SAN_NAMES);
		return YW_EINVAL;
	}
	for (size_t i = 0; i < n_names; i++) {
		if (!is_ip(names[i]) && !dns_name_ok(names[i])) {
			set_err(err, errsz, "'%s' is neither a DNS name nor an IP address",
			        names[i]);
			return YW_EINVAL;
		}
	}
	if ((rc = join(kpath, sizeof(kpath), dir, YW_PKI_SERVER_KEY)) ||
	    (rc = join(cpath, sizeof(cpath), dir, YW_PKI_SERVER_CERT)) ||
	    (rc = ensure_dir(dir, err, errsz)))
		return rc;
	if (server_pair_ok(ca, kpath, cpath, names, n_names))
		return 0;
	rc = YW_ENOMEM;
	key = new_key();
	if (key)
		x = make_cert(CERT_SERVER, "yiwang-server", key, ca->cert, ca->key,
		              days > 0 ? days : YW_PKI_SERVER_DAYS, names, n_names);
	if (!x) {
		set_err_ossl(err, errsz, "issuing the server certificate");
		goto out;
	}
	/* Key first: the old certificate with a new key fails server_pair_ok next time and is
	 * simply reissued. */
	if ((rc = write_key(kpath, key, err, errsz)) ||
	    (rc = write_cert(cpath, x, 0644, err, errsz)))
		goto out;
	if (reissued)
		*reissued = true;
out:
	EVP_PKEY_free(key);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

int yw_pki_sign_csr(const struct yw_pki_ca *ca, const char *csr_pem, size_t csr_len,
                    const char *agent_id, int days, char **cert_pem_out,
                    struct yw_pki_cert_info *info, char *err, size_t errsz)
{
	X509_REQ *req = NULL;
	X509 *x = NULL;
	int rc = YW_EINVAL;
	if (!yw_pki_agent_id_valid(agent_id)) {
		set_err(err, errsz, "invalid agent id");
		return YW_EINVAL;
	}
	if (csr_len > YW_MAX_CSR_PEM) {
		set_err(err, errsz, "CSR larger than %d bytes", YW_MAX_CSR_PEM);
		return YW_ELIMIT;
	}
	BIO *bio = BIO_new_mem_buf(csr_pem, (int)csr_len);
	req = bio ? PEM_read_bio_X509_REQ(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (!req) {
		set_err_ossl(err, errsz, "CSR is not PEM");
		rc = YW_EPARSE;
		goto out;
	}
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	if (!pub || !is_p256(pub)) {
		set_err(err, errsz, "CSR key is not ECDSA P-256");
		rc = YW_EUNSUP;
		goto out;
	}
	if (X509_REQ_verify(req, pub) != 1) {
		set_err_ossl(err, errsz, "CSR signature does not verify");
		goto out;
	}
	x = make_cert(CERT_AGENT, agent_id, pub, ca->cert, ca->key,
	              days > 0 ? days : YW_PKI_AGENT_DAYS, NULL, 0);
	if (!x) {
		set_err_ossl(err, errsz, "issuing the agent certificate");
		rc = YW_ENOMEM;
		goto out;
	}
	if ((rc = yw_pki_x509_pem(x, cert_pem_out, NULL)))
		goto out;
	if (info && (rc = yw_pki_x509_info(x, info))) {
		free(*cert_pem_out);
		*cert_pem_out = NULL;
	}
out:
	X509_REQ_free(req);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

int yw_pki_agent_id_new(char out[YW_AGENT_ID_SIZE])
{
	unsigned char r[16];
	if (RAND_bytes(r, sizeof(r)) != 1)
		return YW_EIO;
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	char h[33];
	hex(r, sizeof(r), h);
	snprintf(out, YW_AGENT_ID_SIZE, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16,
	         h + 20);
	return 0;
}

int yw_pki_agent_keygen(struct yw_pki_key **key_out, char **csr_pem, size_t *csr_len)
{
	struct yw_pki_key *key = calloc(1, sizeof(*key));
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *bio = BIO_new(BIO_s_mem());
	int rc = YW_ENOMEM;
	if (!key || !req || !name || !bio)
		goto out;
	key->pkey = new_key();
	/* The server ignores the subject and names the agent itself. */
	if (!key->pkey || !X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                (const unsigned char *)"yiwang-agent", -1, -1, 0) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key->pkey) ||
	    X509_REQ_sign(req, key->pkey, EVP_sha256()) <= 0 || !PEM_write_bio_X509_REQ(bio, req))
		goto out;
	char *p = NULL;
	long n = BIO_get_mem_data(bio, &p);
	char *copy = malloc((size_t)n + 1);
	if (!copy)
		goto out;
	memcpy(copy, p, (size_t)n);
	copy[n] = '\0';
	*csr_pem = copy;
	if (csr_len)
		*csr_len = (size_t)n;
	*key_out = key;
	key = NULL;
	rc = 0;
out:
	yw_pki_key_free(key);
	X509_REQ_free(req);
	X509_NAME_free(name);
	BIO_free(bio);
	ERR_clear_error();
	return rc;
}

void yw_pki_key_free(struct yw_pki_key *key)
{
	if (!key)
		return;
	EVP_PKEY_free(key->pkey);
	free(key);
}

int yw_pki_agent_store(const char *dir, const struct yw_pki_key *key, const char *cert_pem,
                       size_t cert_len, const char *ca_pem, size_t ca_len,
                       const char *ca_fingerprint, struct yw_pki_cert_info *info, char *err,
                       size_t errsz)
{
	char path[PATH_MAX], fp[YW_FINGERPRINT_SIZE];
	X509 *ca = parse_cert(ca_pem, ca_len);
	X509 *x = parse_cert(cert_pem, cert_len);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *vctx = X509_STORE_CTX_new();
	struct yw_pki_cert_info ci;
	int rc = YW_EPARSE;
	if (!ca || !x) {
		set_err_ossl(err, errsz, "server sent an unreadable certificate");
		goto out;
	}
	rc = YW_EAUTH;
	if (yw_pki_x509_fingerprint(ca, fp) != 0 || strcmp(fp, ca_fingerprint) != 0 ||
	    X509_check_ca(ca) < 1) {
		set_err(err, errsz, "server CA %s does not match the pinned %s", fp,
		        ca_fingerprint);
		goto out;
	}
	if (X509_check_private_key(x, key->pkey) != 1) {
		set_err(err, errsz, "issued certificate is not for this agent's key");
		goto out;
	}
	if (!store || !vctx || !X509_STORE_add_cert(store, ca) ||
	    !X509_STORE_CTX_init(vctx, store, x, NULL) ||
	    !X509_STORE_CTX_set_purpose(vctx, X509_PURPOSE_SSL_CLIENT) ||
	    X509_verify_cert(vctx) != 1) {
		set_err(err, errsz, "issued certificate does not verify: %s",
		        X509_verify_cert_error_string(X509_STORE_CTX_get_error(vctx)));
		goto out;
	}
	if ((rc = yw_pki_x509_info(x, &ci)))
		goto out;
	if (!ci.common_name[0]) {
		set_err(err, errsz, "issued certificate has no valid agent id");
		rc = YW_EAUTH;
		goto out;
	}
	if ((rc = ensure_dir(dir, err, errsz)) ||
	    (rc = join(path, sizeof(path), dir, YW_PKI_CA_CERT)) ||
	    (rc = write_cert(path, ca, 0600, err, errsz)) ||
	    (rc = join(path, sizeof(path), dir, YW_PKI_AGENT_CERT)) ||
	    (rc = write_cert(path, x, 0600, err, errsz)) ||
	    (rc = join(path, sizeof(path), dir, YW_PKI_AGENT_KEY)) ||
	    (rc = write_key(path, key->pkey, err, errsz)))
		goto out;
	if (info)
		*info = ci;
out:
	X509_STORE_CTX_free(vctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(x);
	ERR_clear_error();
	return rc;
}

int yw_pki_cert_info_pem(const char *pem, size_t len, struct yw_pki_cert_info *info)
{
	X509 *x = parse_cert(pem, len);
	ERR_clear_error();
	if (!x)
		return YW_EPARSE;
	int rc = yw_pki_x509_info(x, info);
	X509_free(x);
	return rc;
}

int yw_pki_cert_info_file(const char *path, struct yw_pki_cert_info *info)
{
	X509 *x = NULL;
	int rc = load_cert(path, &x, NULL, 0);
	if (rc)
		return rc;
	rc = yw_pki_x509_info(x, info);
	X509_free(x);
	return rc;
}

int yw_pki_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	return yw_write_file_atomic(path, data, len, mode);
}
