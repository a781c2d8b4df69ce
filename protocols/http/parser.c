/* The HTTP/1.1 request-head parser (RFC 9112 with the contract's limits): a scan that finds where
 * the head ends and enforces the limits as bytes arrive, remembering how far it got so a trickled
 * head costs O(n); then one pass over the complete head that judges its syntax and framing. */
#include <string.h>

#include "parser.h"

/* ---- the scan: line ends and limits, byte order ---------------------------------------------- */

void tw__http_parser_reset(tw__http_parser *p)
{
    memset(p, 0, sizeof *p);
}

/* A line of `content` bytes (line end excluded) ended just before `next`. Returns a status, or 0
 * and sets *end when it was the empty line that ends the head. */
static int line_done(tw__http_parser *p, size_t content, size_t next, size_t *end)
{
    if (p->fields_start == 0) {
        if (content == 0) {
            if (++p->empty_lines > TW_HTTP_EMPTY_LINES_MAX)
                return 400;
            p->head_start = p->line_start = next;
            return 0;
        }
        if (content > TW_HTTP_REQUEST_LINE_MAX)
            return 414;
        p->fields_start = p->line_start = next;
        return 0;
    }
    if (content == 0) {
        *end = next;
        return 0;
    }
    if (next - p->fields_start > TW_HTTP_HEADERS_MAX || ++p->field_lines > TW_HTTP_HEADER_LINES_MAX)
        return 431;
    p->line_start = next;
    return 0;
}

/* The bytes from line_start to len hold no line end yet. Refuses now what the finished line would
 * be refused for anyway, so a client cannot make us hold more than a limit (and the verdict is the
 * same whether the line comes in one piece or in many). */
static int partial_line(const tw__http_parser *p, size_t len)
{
    size_t bytes = len - p->line_start;
    if (p->fields_start == 0)
        return bytes > TW_HTTP_REQUEST_LINE_MAX + 1 ? 414 : 0;
    /* Two bytes cannot be the start of the empty line, so this line will count, with its LF. */
    if (bytes >= 2 && len - p->fields_start + 1 > TW_HTTP_HEADERS_MAX)
        return 431;
    return 0;
}

/* Returns a status, or 0 with *end the head's length when complete (0 when not yet). */
static int scan(tw__http_parser *p, const char *buf, size_t len, size_t *end)
{
    *end = 0;
    while (p->scanned < len) {
        const char *nl = memchr(buf + p->scanned, '\n', len - p->scanned);
        if (!nl) {
            p->scanned = len;
            return partial_line(p, len);
        }
        size_t eol = (size_t)(nl - buf);
        size_t content = eol - p->line_start;
        if (content > 0 && buf[eol - 1] == '\r')
            content--;
        p->scanned = eol + 1;
        int status = line_done(p, content, eol + 1, end);
        if (status || *end)
            return status;
    }
    return 0;
}

/* ---- the complete head ----------------------------------------------------------------------- */

/* What the header lines said, beyond the spans kept in the request. */
typedef struct {
    bool host_seen, cl_seen, te_seen, conn_close;
    uint64_t content_length;
    tw__http_str te;
    unsigned dup_mask; /* fields seen once already: a second one makes them absent */
} fields;

static tw__http_str span(const char *p, size_t len)
{
    return (tw__http_str){p, len};
}

static const char *skip_ows(const char *s, const char *end)
{
    while (s < end && tw__http_ows((unsigned char)*s))
        s++;
    return s;
}

static const char *trim_ows_end(const char *start, const char *end)
{
    while (end > start && tw__http_ows((unsigned char)end[-1]))
        end--;
    return end;
}

/* Calls fn on each non-empty element of a comma-separated list (RFC 9110 5.6.1), trimmed of OWS;
 * stops at the first nonzero return and returns it. */
static int each_element(tw__http_str list, int (*fn)(tw__http_str el, void *arg), void *arg)
{
    const char *s = list.p, *end = list.p + list.len;
    while (s < end) {
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *el_end = comma ? comma : end;
        const char *a = skip_ows(s, el_end), *b = trim_ows_end(a, el_end);
        if (a < b) {
            int rc = fn(span(a, (size_t)(b - a)), arg);
            if (rc)
                return rc;
        }
        s = comma ? comma + 1 : end;
    }
    return 0;
}

static bool all_in(tw__http_class set, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!tw__http_in(set, (unsigned char)s[i]))
            return false;
    return true;
}

/* A decimal of 1 or more digits that fits INT64_MAX, without sign or spaces. */
static bool parse_decimal(tw__http_str s, uint64_t *out)
{
    uint64_t v = 0;
    if (s.len == 0)
        return false;
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.p[i];
        if (!tw__http_digit(c) || v > (uint64_t)(INT64_MAX - (c - '0')) / 10)
            return false;
        v = v * 10 + (uint64_t)(c - '0');
    }
    *out = v;
    return true;
}

/* ---- Host and authorities (RFC 3986 3.2) ---- */

static bool valid_port(const char *s, size_t len)
{
    unsigned v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!tw__http_digit((unsigned char)s[i]))
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
        if (v > 65535)
            return false;
    }
    return true;
}

/* An IP-literal's inside: hex digits, colons and dots (IPv6, with an IPv4 tail). */
static bool valid_ip_literal(const char *s, size_t len)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (tw__http_hex((unsigned char)s[i]) < 0 && s[i] != ':' && s[i] != '.')
            return false;
    return true;
}

/* A reg-name or IPv4 address: its characters, valid %XX escapes, no empty label before a dot. */
static bool valid_reg_name(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!tw__http_in(TW__HTTP_REGNAME, c))
            return false;
        if (c == '.' && (i == 0 || s[i - 1] == '.'))
            return false;
        if (c == '%' && (i + 2 >= len || tw__http_hex((unsigned char)s[i + 1]) < 0 ||
                         tw__http_hex((unsigned char)s[i + 2]) < 0))
            return false;
    }
    return true;
}

/* host [":" port], as in Host and in an absolute-form target. */
static bool valid_authority(tw__http_str a, bool need_host)
{
    const char *s = a.p, *end = a.p + a.len, *host_end;
    if (s < end && *s == '[') {
        const char *close = memchr(s, ']', a.len);
        if (!close || !valid_ip_literal(s + 1, (size_t)(close - s - 1)))
            return false;
        host_end = close + 1;
    } else {
        const char *colon = memchr(s, ':', a.len);
        host_end = colon ? colon : end;
        if (!valid_reg_name(s, (size_t)(host_end - s)))
            return false;
    }
    if (need_host && host_end == s)
        return false;
    if (host_end == end)
        return true;
    return *host_end == ':' && valid_port(host_end + 1, (size_t)(end - host_end - 1));
}

/* ---- the request line ---- */

static bool valid_target_bytes(tw__http_str t)
{
    for (size_t i = 0; i < t.len; i++) {
        unsigned char c = (unsigned char)t.p[i];
        if (c <= 0x20 || c == 0x7f || c == '#')
            return false;
    }
    return true;
}

static bool valid_percent_escapes(tw__http_str s)
{
    for (size_t i = 0; i < s.len; i++)
        if (s.p[i] == '%' && (i + 2 >= s.len || tw__http_hex((unsigned char)s.p[i + 1]) < 0 ||
                              tw__http_hex((unsigned char)s.p[i + 2]) < 0))
            return false;
    return true;
}

static tw__http_method classify_method(tw__http_str m)
{
    static const char *const others[] = {"POST",    "PUT",   "DELETE", "CONNECT",
                                         "OPTIONS", "TRACE", "PATCH"};
    if (m.len == 3 && memcmp(m.p, "GET", 3) == 0)
        return TW__HTTP_GET;
    if (m.len == 4 && memcmp(m.p, "HEAD", 4) == 0)
        return TW__HTTP_HEAD;
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (m.len == strlen(others[i]) && memcmp(m.p, others[i], m.len) == 0)
            return TW__HTTP_KNOWN_OTHER;
    return TW__HTTP_UNKNOWN;
}

/* "method SP target SP HTTP/D.D", one space each (a lenient split is a smuggling risk). */
static int parse_request_line(tw__http_str line, tw__http_request *req)
{
    req->request_line = line;
    const char *end = line.p + line.len;
    const char *sp1 = memchr(line.p, ' ', line.len);
    if (!sp1)
        return 400;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(end - t));
    if (!sp2)
        return 400;
    req->method_name = span(line.p, (size_t)(sp1 - line.p));
    req->target = span(t, (size_t)(sp2 - t));
    const char *v = sp2 + 1;
    if (req->method_name.len == 0 || !all_in(TW__HTTP_TCHAR, line.p, req->method_name.len) ||
        req->target.len == 0 || !valid_target_bytes(req->target))
        return 400;
    if (end - v != 8 || memcmp(v, "HTTP/", 5) != 0 || !tw__http_digit((unsigned char)v[5]) ||
        v[6] != '.' || !tw__http_digit((unsigned char)v[7]))
        return 400;
    if (v[5] != '1')
        return 505;
    req->minor = v[7] == '0' ? 0 : 1;
    req->method = classify_method(req->method_name);
    return 0;
}

/* Splits an origin-form path?query (the path is what comes before '?'). */
static void split_query(tw__http_str pq, tw__http_request *req)
{
    const char *q = memchr(pq.p, '?', pq.len);
    if (!q) {
        req->path = pq;
        return;
    }
    req->path = span(pq.p, (size_t)(q - pq.p));
    req->query = span(q + 1, (size_t)(pq.p + pq.len - q - 1));
}

/* "http://authority[/path][?query]" (RFC 9112 3.2.2): the authority stands in for Host. */
static int parse_absolute_form(tw__http_str t, tw__http_request *req)
{
    static const char root[] = "/";
    const char *end = t.p + t.len;
    const char *colon = memchr(t.p, ':', t.len);
    tw__http_str scheme = span(t.p, colon ? (size_t)(colon - t.p) : 0);
    if (!(TW__HTTP_IEQ(scheme, "http") || TW__HTTP_IEQ(scheme, "https")) || end - colon < 3 ||
        colon[1] != '/' || colon[2] != '/')
        return 400;
    const char *a = colon + 3, *a_end = a;
    while (a_end < end && *a_end != '/' && *a_end != '?')
        a_end++;
    req->host = span(a, (size_t)(a_end - a));
    if (!valid_authority(req->host, true))
        return 400;
    if (a_end < end && *a_end == '/') {
        split_query(span(a_end, (size_t)(end - a_end)), req);
    } else {
        req->path = span(root, 1);
        if (a_end < end)
            req->query = span(a_end + 1, (size_t)(end - a_end - 1));
    }
    return 0;
}

/* GET and HEAD need a target naming a resource: origin-form or absolute-form. */
static int parse_target(tw__http_request *req)
{
    tw__http_str t = req->target;
    if (t.p[0] == '/')
        split_query(t, req);
    else if (parse_absolute_form(t, req) != 0)
        return 400;
    return valid_percent_escapes(req->path) ? 0 : 400;
}

/* ---- header fields ---- */

/* Content-Length: 1*DIGIT, or a list of equal ones ("42, 42", RFC 9110 8.6); every value on every
 * line must agree. */
static int parse_content_length(tw__http_str v, fields *f)
{
    const char *s = v.p, *end = v.p + v.len;
    for (;;) {
        const char *d = s;
        uint64_t n;
        while (s < end && tw__http_digit((unsigned char)*s))
            s++;
        if (!parse_decimal(span(d, (size_t)(s - d)), &n) || (f->cl_seen && n != f->content_length))
            return 400;
        f->cl_seen = true;
        f->content_length = n;
        s = skip_ows(s, end);
        if (s == end)
            return 0;
        if (*s != ',')
            return 400;
        s = skip_ows(s + 1, end);
    }
}

static int connection_element(tw__http_str el, void *arg)
{
    if (TW__HTTP_IEQ(el, "close"))
        *(bool *)arg = true;
    return 0;
}

/* Conditional and range headers: the first one is kept, a second one makes the field absent. */
static void set_once(tw__http_str *slot, unsigned bit, tw__http_str value, fields *f)
{
    if (f->dup_mask & bit) {
        *slot = (tw__http_str){NULL, 0};
        return;
    }
    f->dup_mask |= bit;
    *slot = value;
}

/* Applies one header field: the framing ones are checked here, the rest only recorded. */
static int apply_field(tw__http_str name, tw__http_str value, tw__http_request *req, fields *f)
{
    if (TW__HTTP_IEQ(name, "host")) {
        if (f->host_seen || !valid_authority(value, false))
            return 400;
        f->host_seen = true;
        if (!req->host.p)
            req->host = value;
    } else if (TW__HTTP_IEQ(name, "content-length")) {
        return parse_content_length(value, f);
    } else if (TW__HTTP_IEQ(name, "transfer-encoding")) {
        if (f->te_seen)
            return 400;
        f->te_seen = true;
        f->te = value;
    } else if (TW__HTTP_IEQ(name, "connection")) {
        each_element(value, connection_element, &f->conn_close);
    } else if (TW__HTTP_IEQ(name, "if-modified-since")) {
        set_once(&req->if_modified_since, 1u << 0, value, f);
    } else if (TW__HTTP_IEQ(name, "if-unmodified-since")) {
        set_once(&req->if_unmodified_since, 1u << 1, value, f);
    } else if (TW__HTTP_IEQ(name, "if-none-match")) {
        set_once(&req->if_none_match, 1u << 2, value, f);
    } else if (TW__HTTP_IEQ(name, "if-match")) {
        set_once(&req->if_match, 1u << 3, value, f);
    } else if (TW__HTTP_IEQ(name, "range")) {
        set_once(&req->range, 1u << 4, value, f);
    } else if (TW__HTTP_IEQ(name, "if-range")) {
        set_once(&req->if_range, 1u << 5, value, f);
    } else if (TW__HTTP_IEQ(name, "user-agent")) {
        if (!req->user_agent.p)
            req->user_agent = value;
    } else if (TW__HTTP_IEQ(name, "referer")) {
        if (!req->referer.p)
            req->referer = value;
    }
    return 0;
}

/* A field value: VCHAR, obs-text, SP and HTAB; any other control byte (bare CR, NUL) is refused. */
static bool valid_value(tw__http_str v)
{
    for (size_t i = 0; i < v.len; i++) {
        unsigned char c = (unsigned char)v.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return false;
    }
    return true;
}

/* "name:" OWS value OWS. A line starting with whitespace is obs-fold (or whitespace before the
 * first field); whitespace before the colon is refused (RFC 9112 5.1): both are 400. */
static int parse_field_line(tw__http_str line, tw__http_request *req, fields *f)
{
    const char *end = line.p + line.len, *c = line.p;
    while (c < end && tw__http_in(TW__HTTP_TCHAR, (unsigned char)*c))
        c++;
    if (c == line.p || c == end || *c != ':')
        return 400;
    const char *v = skip_ows(c + 1, end);
    tw__http_str value = span(v, (size_t)(trim_ows_end(v, end) - v));
    if (!valid_value(value))
        return 400;
    return apply_field(span(line.p, (size_t)(c - line.p)), value, req, f);
}

/* The line starting at s (which ends in LF before end), without its line end; *next after it. */
static tw__http_str next_line(const char *s, const char *end, const char **next)
{
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    *next = nl + 1;
    size_t len = (size_t)(nl - s);
    if (len > 0 && s[len - 1] == '\r')
        len--;
    return span(s, len);
}

static int te_element(tw__http_str el, void *arg)
{
    int *codings = arg; /* [0] all, [1] position of the last chunked (1-based) */
    const char *semi = memchr(el.p, ';', el.len);
    tw__http_str coding =
        span(el.p, (size_t)(trim_ows_end(el.p, semi ? semi : el.p + el.len) - el.p));
    if (coding.len == 0 || !all_in(TW__HTTP_TCHAR, coding.p, coding.len))
        return 400;
    codings[0]++;
    if (TW__HTTP_IEQ(coding, "chunked")) {
        if (codings[1])
            return 400; /* chunked twice */
        codings[1] = codings[0];
    }
    return 0;
}

/* Transfer-Encoding (RFC 9112 6.1, 6.3): 0 for exactly "chunked" (a body we will not read), 400
 * when chunked is not the final coding, 501 for codings we do not know. */
static int judge_transfer_encoding(tw__http_str te)
{
    int codings[2] = {0, 0};
    int status = each_element(te, te_element, codings);
    if (status)
        return status;
    if (codings[0] == 0 || codings[1] != codings[0])
        return 400;
    return codings[0] == 1 ? 0 : 501;
}

/* Framing, then the method, then the body: framing is judged before the method. */
static int judge(tw__http_request *req, fields *f)
{
    if (f->te_seen && (f->cl_seen || req->minor == 0))
        return 400;
    if (req->minor == 1 && !f->host_seen)
        return 400;
    if (f->te_seen) {
        int status = judge_transfer_encoding(f->te);
        if (status)
            return status;
    }
    bool serve = req->method == TW__HTTP_GET || req->method == TW__HTTP_HEAD;
    if (serve && parse_target(req) != 0)
        return 400;
    req->status = serve ? 0 : req->method == TW__HTTP_KNOWN_OTHER ? 405 : 501;
    req->keep_alive = req->minor == 1 && !f->conn_close;
    if (f->te_seen || f->content_length > TW_HTTP_BODY_DISCARD_MAX) {
        if (serve)
            req->status = 413;
        req->keep_alive = false;
    } else {
        req->body_len = f->content_length;
    }
    return 0;
}

/* Parses the complete head in buf: request line [head_start, fields_start), header field lines up
 * to the empty line that ends at end. Returns 0 or the status that refuses it. */
static int parse_head(const tw__http_parser *p, const char *buf, size_t end, tw__http_request *req)
{
    const char *s = buf + p->head_start, *stop = buf + end, *next;
    int status = parse_request_line(next_line(s, stop, &next), req);
    if (status)
        return status;
    fields f = {0};
    for (s = next; ; s = next) {
        tw__http_str line = next_line(s, stop, &next);
        if (line.len == 0)
            break;
        if ((status = parse_field_line(line, req, &f)) != 0)
            return status;
    }
    return judge(req, &f);
}

ssize_t tw__http_parse(tw__http_parser *p, const char *buf, size_t len, tw__http_request *req)
{
    if (len < p->scanned)
        tw__http_parser_reset(p); /* not the input we scanned: start over */
    size_t end;
    int status = scan(p, buf, len, &end);
    if (status == 0 && end == 0)
        return 0;
    memset(req, 0, sizeof *req);
    if (status == 0)
        status = parse_head(p, buf, end, req);
    tw__http_parser_reset(p);
    if (status) {
        req->status = status;
        req->keep_alive = false;
        req->body_len = 0;
        return TW_EPARSE;
    }
    return (ssize_t)end;
}
