/* Response heads. Every number is written by hand rather than by printf (heads are on the hot
 * path), and the few bytes that vary per file (dates, ETag, type) come in already formatted. */
#include <string.h>

#include "date.h"
#include "head.h"

const char *tw__http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void tw__http_head_status(tw__http_text *t, int status, const char *date)
{
    tw__http_text_cstr(t, "HTTP/1.1 ");
    tw__http_text_u64(t, (uint64_t)status);
    tw__http_text_add(t, " ", 1);
    tw__http_text_cstr(t, tw__http_reason(status));
    tw__http_text_cstr(t, "\r\nServer: twined\r\nDate: ");
    tw__http_text_add(t, date, TW__HTTP_DATE_LEN);
    tw__http_text_add(t, "\r\n", 2);
}

void tw__http_head_field(tw__http_text *t, const char *name, const char *value, size_t len)
{
    tw__http_text_cstr(t, name);
    tw__http_text_add(t, ": ", 2);
    tw__http_text_add(t, value, len);
    tw__http_text_add(t, "\r\n", 2);
}

void tw__http_head_field_u64(tw__http_text *t, const char *name, uint64_t value)
{
    tw__http_text_cstr(t, name);
    tw__http_text_add(t, ": ", 2);
    tw__http_text_u64(t, value);
    tw__http_text_add(t, "\r\n", 2);
}

void tw__http_head_end(tw__http_text *t, bool keep_alive)
{
    if (!keep_alive)
        tw__http_text_cstr(t, "Connection: close\r\n");
    tw__http_text_add(t, "\r\n", 2);
}

void tw__http_file_head_write(tw__http_text *t, const tw__http_file_head *f, const char *date,
                              bool keep_alive)
{
    tw__http_head_status(t, f->status, date);
    if (f->status != 304) {
        tw__http_head_field(t, "Content-Type", f->content_type, strlen(f->content_type));
        tw__http_head_field_u64(t, "Content-Length",
                                f->status == 206 ? f->last - f->first + 1 : f->size);
    }
    if (f->status == 206) {
        tw__http_text_cstr(t, "Content-Range: bytes ");
        tw__http_text_u64(t, f->first);
        tw__http_text_add(t, "-", 1);
        tw__http_text_u64(t, f->last);
        tw__http_text_add(t, "/", 1);
        tw__http_text_u64(t, f->size);
        tw__http_text_add(t, "\r\n", 2);
    }
    tw__http_head_field(t, "Last-Modified", f->last_modified, TW__HTTP_DATE_LEN);
    tw__http_head_field(t, "ETag", f->etag, f->etag_len);
    if (f->status != 304)
        tw__http_text_cstr(t, "Accept-Ranges: bytes\r\n");
    tw__http_head_end(t, keep_alive);
}

/* "<h1>404 Not Found</h1>" and its page, made only of the status: nothing from the request. */
static void status_page(tw__http_text *t, int status)
{
    for (int twice = 0; twice < 2; twice++) {
        tw__http_text_cstr(t, twice ? "</title></head>\n<body><h1>"
                                    : "<!DOCTYPE html>\n<html><head><title>");
        tw__http_text_u64(t, (uint64_t)status);
        tw__http_text_add(t, " ", 1);
        tw__http_text_cstr(t, tw__http_reason(status));
    }
    tw__http_text_cstr(t, "</h1></body></html>\n");
}

size_t tw__http_status_response(tw__http_text *t, int status, const char *date, bool keep_alive,
                                bool head_only, const char *extra, size_t extra_len)
{
    char page[256];
    tw__http_text body;
    tw__http_text_init_fixed(&body, page, sizeof page);
    status_page(&body, status);
    tw__http_head_status(t, status, date);
    tw__http_text_cstr(t, "Content-Type: text/html; charset=utf-8\r\n");
    tw__http_head_field_u64(t, "Content-Length", body.len);
    if (extra) {
        tw__http_text_add(t, extra, extra_len);
        tw__http_text_add(t, "\r\n", 2);
    }
    tw__http_head_end(t, keep_alive);
    if (!head_only)
        tw__http_text_add(t, body.p, body.len);
    return body.len;
}
