/* HTTP-date in and out. The calendar arithmetic is done here on 64-bit day counts (proleptic
 * Gregorian, days since 1970-01-01) rather than with gmtime/timegm, so it is the same on every libc
 * and every time_t width, and a formatted date needs no locale. */
#include <string.h>

#include "chars.h"
#include "date.h"

static const char days[7][4] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"}; /* 1970-01-01 */
static const char *const long_days[7] = {"Thursday", "Friday",  "Saturday", "Sunday",
                                         "Monday",   "Tuesday", "Wednesday"};
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* Days from 1970-01-01 to y-m-d; eras of 400 years (146097 days) with March as the first month so
 * that the leap day ends a year. */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static void put2(char *out, unsigned v)
{
    out[0] = (char)('0' + v / 10 % 10);
    out[1] = (char)('0' + v % 10);
}

void tw__http_date_format(int64_t t, char *out)
{
    static const int64_t first = -62167219200; /* 0000-01-01 00:00:00 */
    static const int64_t last = 253402300799;  /* 9999-12-31 23:59:59 */
    t = t < first ? first : t > last ? last : t;
    int64_t day = (t >= 0 ? t : t - 86399) / 86400, secs = t - day * 86400, y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    memcpy(out, days[((day % 7) + 7) % 7], 3);
    memcpy(out + 3, ", ", 2);
    put2(out + 5, d);
    out[7] = ' ';
    memcpy(out + 8, months[m - 1], 3);
    out[11] = ' ';
    put2(out + 12, (unsigned)(y / 100));
    put2(out + 14, (unsigned)(y % 100));
    out[16] = ' ';
    put2(out + 17, (unsigned)(secs / 3600));
    out[19] = ':';
    put2(out + 20, (unsigned)(secs / 60 % 60));
    out[22] = ':';
    put2(out + 23, (unsigned)(secs % 60));
    memcpy(out + 25, " GMT", 5);
}

/* ---- parsing: a cursor over the input -------------------------------------------------------- */

typedef struct {
    const char *s, *end;
    bool ok;
} cursor;

static void lit(cursor *c, const char *text)
{
    size_t n = strlen(text);
    if (c->ok && (size_t)(c->end - c->s) >= n && memcmp(c->s, text, n) == 0)
        c->s += n;
    else
        c->ok = false;
}

/* Exactly n digits (a leading space counts as a zero when space_ok: asctime's " 6"). */
static unsigned digits(cursor *c, size_t n, bool space_ok)
{
    unsigned v = 0;
    if (!c->ok || (size_t)(c->end - c->s) < n) {
        c->ok = false;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)c->s[i];
        if (space_ok && i == 0 && ch == ' ')
            continue;
        if (!tw__http_digit(ch)) {
            c->ok = false;
            return 0;
        }
        v = v * 10 + (unsigned)(ch - '0');
    }
    c->s += n;
    return v;
}

/* One of the n names in table (each 3 letters, or the long day names); case-sensitive as the
 * grammar says. Returns the index. */
static unsigned name(cursor *c, const char *const *names, const char (*short_names)[4], unsigned n)
{
    for (unsigned i = 0; c->ok && i < n; i++) {
        const char *want = names ? names[i] : short_names[i];
        size_t len = strlen(want);
        if ((size_t)(c->end - c->s) >= len && memcmp(c->s, want, len) == 0) {
            c->s += len;
            return i;
        }
    }
    c->ok = false;
    return 0;
}

typedef struct {
    int64_t year;
    unsigned month, day, hour, min, sec;
} fields;

static void time_of_day(cursor *c, fields *f)
{
    f->hour = digits(c, 2, false);
    lit(c, ":");
    f->min = digits(c, 2, false);
    lit(c, ":");
    f->sec = digits(c, 2, false);
}

static bool to_time(const cursor *c, const fields *f, int64_t *t)
{
    static const unsigned char mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!c->ok || c->s != c->end || f->day < 1 || f->day > mdays[f->month] || f->hour > 23 ||
        f->min > 59 || f->sec > 60)
        return false;
    bool leap = (f->year % 4 == 0 && f->year % 100 != 0) || f->year % 400 == 0;
    if (f->month == 1 && f->day == 29 && !leap)
        return false;
    *t = days_from_civil(f->year, f->month + 1, f->day) * 86400 +
         (int64_t)(f->hour * 3600 + f->min * 60 + f->sec);
    return true;
}

bool tw__http_date_parse(const char *s, size_t len, int64_t *t)
{
    fields f = {0};
    cursor c = {s, s + len, true};
    const char *comma = memchr(s, ',', len);
    if (comma && comma - s == 3) { /* IMF-fixdate */
        name(&c, NULL, days, 7);
        lit(&c, ", ");
        f.day = digits(&c, 2, false);
        lit(&c, " ");
        f.month = name(&c, NULL, months, 12);
        lit(&c, " ");
        f.year = digits(&c, 4, false);
        lit(&c, " ");
        time_of_day(&c, &f);
        lit(&c, " GMT");
    } else if (comma) { /* RFC 850 */
        name(&c, long_days, NULL, 7);
        lit(&c, ", ");
        f.day = digits(&c, 2, false);
        lit(&c, "-");
        f.month = name(&c, NULL, months, 12);
        lit(&c, "-");
        f.year = digits(&c, 2, false);
        f.year += f.year < 70 ? 2000 : 1900;
        lit(&c, " ");
        time_of_day(&c, &f);
        lit(&c, " GMT");
    } else { /* asctime */
        name(&c, NULL, days, 7);
        lit(&c, " ");
        f.month = name(&c, NULL, months, 12);
        lit(&c, " ");
        f.day = digits(&c, 2, true);
        lit(&c, " ");
        time_of_day(&c, &f);
        lit(&c, " ");
        f.year = digits(&c, 4, false);
    }
    return to_time(&c, &f, t);
}
