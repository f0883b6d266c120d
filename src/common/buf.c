#include <string.h>

#include "yiwang/buf.h"
#include "yiwang/error.h"

int yw_get_bytes(struct yw_reader *r, size_t n, const uint8_t **p)
{
	if (r->len < n)
		return YW_EPARSE;
	*p = r->p;
	r->p += n;
	r->len -= n;
	return 0;
}

static int get_be(struct yw_reader *r, size_t n, uint64_t *v)
{
	const uint8_t *p;
	int rc = yw_get_bytes(r, n, &p);
	if (rc)
		return rc;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++)
		x = (x << 8) | p[i];
	*v = x;
	return 0;
}

int yw_get_u8(struct yw_reader *r, uint8_t *v)
{
	uint64_t x;
	int rc = get_be(r, 1, &x);
	if (rc == 0)
		*v = (uint8_t)x;
	return rc;
}

int yw_get_u16(struct yw_reader *r, uint16_t *v)
{
	uint64_t x;
	int rc = get_be(r, 2, &x);
	if (rc == 0)
		*v = (uint16_t)x;
	return rc;
}

int yw_get_u32(struct yw_reader *r, uint32_t *v)
{
	uint64_t x;
	int rc = get_be(r, 4, &x);
	if (rc == 0)
		*v = (uint32_t)x;
	return rc;
}

int yw_get_u64(struct yw_reader *r, uint64_t *v)
{
	return get_be(r, 8, v);
}

int yw_get_str16(struct yw_reader *r, const char **s, uint16_t *len)
{
	uint16_t n;
	const uint8_t *p;
	int rc = yw_get_u16(r, &n);
	if (rc == 0)
		rc = yw_get_bytes(r, n, &p);
	if (rc == 0) {
		*s = (const char *)p;
		*len = n;
	}
	return rc;
}

int yw_get_str32(struct yw_reader *r, const char **s, uint32_t *len, uint32_t max)
{
	uint32_t n;
	const uint8_t *p;
	int rc = yw_get_u32(r, &n);
	if (rc)
		return rc;
	if (n > max)
		return YW_ELIMIT;
	if ((rc = yw_get_bytes(r, n, &p)) != 0)
		return rc;
	*s = (const char *)p;
	*len = n;
	return 0;
}

static int put_be(struct yw_strbuf *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];
	for (size_t i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	return yw_strbuf_append(b, (const char *)tmp, n);
}

int yw_put_u8(struct yw_strbuf *b, uint8_t v)
{
	return put_be(b, v, 1);
}

int yw_put_u16(struct yw_strbuf *b, uint16_t v)
{
	return put_be(b, v, 2);
}

int yw_put_u32(struct yw_strbuf *b, uint32_t v)
{
	return put_be(b, v, 4);
}

int yw_put_u64(struct yw_strbuf *b, uint64_t v)
{
	return put_be(b, v, 8);
}

int yw_put_str16(struct yw_strbuf *b, const char *s, size_t len)
{
	if (len > UINT16_MAX)
		return YW_ELIMIT;
	int rc = yw_put_u16(b, (uint16_t)len);
	return rc ? rc : yw_strbuf_append(b, s, len);
}

int yw_put_str32(struct yw_strbuf *b, const char *s, size_t len)
{
	if (len > UINT32_MAX)
		return YW_ELIMIT;
	int rc = yw_put_u32(b, (uint32_t)len);
	return rc ? rc : yw_strbuf_append(b, s, len);
}
