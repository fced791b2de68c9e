/* protocol_core.c: see protocol_core.h and PROTOCOL.md. Portable C99, no allocation. */
#include "protocol_core.h"

#include <string.h>

/* ---------------------------------------------------------------------------- CRC */

uint16_t pc_crc16(const uint8_t *data, size_t len, uint16_t crc)
{
    /* Bitwise: 2 KB of RAM is too little for a 512-byte table, and frames are short. */
    while (len--) {
        uint8_t i;
        crc ^= (uint16_t)(*data++) << 8;
        for (i = 0; i < 8; i++)
            crc = (crc & 0x8000u) ? (uint16_t)((crc << 1) ^ 0x1021u) : (uint16_t)(crc << 1);
    }
    return crc;
}

/* --------------------------------------------------------------------------- COBS */

size_t pc_cobs_encode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t code_at = 0, o = 1, i;
    uint8_t code = 1;
    for (i = 0; i < len; i++) {
        if (in[i] == 0) {
            out[code_at] = code;
            code_at = o++;
            code = 1;
        } else {
            out[o++] = in[i];
            if (++code == 0xFF) {
                out[code_at] = code;
                code_at = o++;
                code = 1;
                if (i + 1 == len) { /* a full block ends the data: no trailing code byte */
                    return o - 1;
                }
            }
        }
    }
    out[code_at] = code;
    return o;
}

int pc_cobs_decode(const uint8_t *in, size_t len, uint8_t *out)
{
    size_t i = 0, o = 0;
    while (i < len) {
        uint8_t code = in[i];
        size_t end, j;
        if (code == 0) return -1;
        end = i + code;
        if (end > len) return -1;
        for (j = i + 1; j < end; j++) {
            if (in[j] == 0) return -1;
            out[o++] = in[j];
        }
        i = end;
        if (code != 0xFF && i < len) out[o++] = 0;
    }
    return (int)o;
}

/* ------------------------------------------------------------------------ layouts */

static const char L_HELLO[] = "BB";
static const char L_EMPTY[] = "";
static const char L_U16[] = "H";
static const char L_U32[] = "I";
static const char L_SET_LIMITS[] = "iiB";
static const char L_STORE_CAL[] = "fi";
/* proto major minor, fw x.y.z, uid[16], adc_kind adc_bits channels, rate cur/min/max,
 * counts_per_n, offset_counts, max_frame, capabilities */
static const char L_IDENTITY[] = "BBBBB" "BBBBBBBBBBBBBBBB" "BBB" "HHH" "fi" "H" "B";
static const char L_ACK[] = "BB";
static const char L_NAK[] = "BBB";
static const char L_STATUS[] = "IBHHHI";
static const char L_PONG[] = "II";
static const char L_EVENT[] = "BIi";
static const char L_HEARTBEAT[] = "IB";

const char *pc_layout(uint8_t type)
{
    switch (type) {
    case PC_HELLO: return L_HELLO;
    case PC_START: case PC_STOP: case PC_GET_STATUS: return L_EMPTY;
    case PC_SET_RATE: return L_U16;
    case PC_PING: return L_U32;
    case PC_SET_LIMITS: return L_SET_LIMITS;
    case PC_STORE_CAL: return L_STORE_CAL;
    case PC_IDENTITY: return L_IDENTITY;
    case PC_ACK: return L_ACK;
    case PC_NAK: return L_NAK;
    case PC_STATUS: return L_STATUS;
    case PC_PONG: return L_PONG;
    case PC_EVENT: return L_EVENT;
    case PC_HEARTBEAT: return L_HEARTBEAT;
    default: return NULL; /* SAMPLES and unknown types */
    }
}

static uint8_t field_size(char c)
{
    switch (c) {
    case 'B': return 1;
    case 'H': return 2;
    default: return 4; /* I i f */
    }
}

size_t pc_layout_size(const char *layout)
{
    size_t n = 0;
    while (*layout) n += field_size(*layout++);
    return n;
}

size_t pc_layout_count(const char *layout) { return strlen(layout); }

void pc_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

void pc_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

void pc_put_i24(uint8_t *p, int32_t v)
{
    if (v > 8388607L) v = 8388607L;
    if (v < -8388608L) v = -8388608L;
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)((uint32_t)v >> 8);
    p[2] = (uint8_t)((uint32_t)v >> 16);
}

uint16_t pc_get_u16(const uint8_t *p) { return (uint16_t)(p[0] | ((uint16_t)p[1] << 8)); }

uint32_t pc_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

int32_t pc_get_i24(const uint8_t *p)
{
    uint32_t u = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16);
    if (u & 0x800000UL) u |= 0xFF000000UL;
    return (int32_t)u;
}

size_t pc_pack(const char *layout, const pc_val_t *vals, uint8_t *out)
{
    uint8_t *p = out;
    for (; *layout; layout++, vals++) {
        switch (*layout) {
        case 'B': *p++ = (uint8_t)vals->u; break;
        case 'H': pc_put_u16(p, (uint16_t)vals->u); p += 2; break;
        case 'f': {
            uint32_t bits;
            memcpy(&bits, &vals->f, 4);
            pc_put_u32(p, bits);
            p += 4;
            break;
        }
        default: pc_put_u32(p, vals->u); p += 4; break; /* I, i (two's complement) */
        }
    }
    return (size_t)(p - out);
}

int pc_unpack(const char *layout, const uint8_t *in, size_t len, pc_val_t *vals)
{
    if (len < pc_layout_size(layout)) return -1;
    for (; *layout; layout++, vals++) {
        switch (*layout) {
        case 'B': vals->u = *in++; break;
        case 'H': vals->u = pc_get_u16(in); in += 2; break;
        case 'f': {
            uint32_t bits = pc_get_u32(in);
            memcpy(&vals->f, &bits, 4);
            in += 4;
            break;
        }
        case 'i': vals->i = (int32_t)pc_get_u32(in); in += 4; break;
        default: vals->u = pc_get_u32(in); in += 4; break;
        }
    }
    return 0;
}

size_t pc_pack_samples_header(uint8_t *out, uint32_t first_index, uint32_t t_us,
                              uint32_t period_us, uint8_t channels, uint8_t count,
                              uint8_t flags)
{
    pc_put_u32(out, first_index);
    pc_put_u32(out + 4, t_us);
    pc_put_u16(out + 8, (uint16_t)(period_us > 0xFFFFu ? 0xFFFFu : period_us));
    out[10] = channels;
    out[11] = count;
    out[12] = flags;
    return PC_SAMPLES_HEADER_LEN;
}

/* ------------------------------------------------------------------------- frames */

size_t pc_frame_size(size_t payload_len)
{
    size_t body = payload_len + 4; /* type seq ... crc */
    return body + body / 254 + 1 + 1;
}

size_t pc_frame_encode(uint8_t type, uint8_t seq, const uint8_t *payload, size_t len,
                       uint8_t *out, size_t cap)
{
    /* Assemble the body at the end of out, then COBS-encode forwards into the start:
     * the encoder never writes past the byte it reads, given this head start. */
    size_t body_len = len + 4, n;
    size_t need = pc_frame_size(len);
    uint8_t *body;
    uint16_t crc;
    if (need > cap) return 0;
    body = out + (need - body_len);
    memmove(body + 2, payload, len);
    body[0] = type;
    body[1] = seq;
    crc = pc_crc16(body, len + 2, 0xFFFF);
    body[len + 2] = (uint8_t)crc;
    body[len + 3] = (uint8_t)(crc >> 8);
    n = pc_cobs_encode(body, body_len, out);
    out[n++] = 0;
    return n;
}

/* ------------------------------------------------------------------------ decoder */

void pc_decoder_init(pc_decoder_t *d) { memset(d, 0, sizeof(*d)); }

int pc_decoder_feed(pc_decoder_t *d, uint8_t byte, pc_frame_t *f)
{
    int n;
    if (byte != 0) {
        if (d->discarding) return 0;
        if (d->len >= PC_RX_MAX) {
            d->oversize++;
            d->discarding = 1;
            d->len = 0;
            return 0;
        }
        d->buf[d->len++] = byte;
        return 0;
    }
    /* a delimiter: decode what we have */
    if (d->discarding) {
        d->discarding = 0;
        return 0;
    }
    if (d->len == 0) return 0; /* an empty frame (idle preamble) */
    n = pc_cobs_decode(d->buf, d->len, d->buf);
    d->len = 0;
    if (n < 4) {
        d->cobs_errors++;
        return 0;
    }
    if (pc_crc16(d->buf, (size_t)n - 2, 0xFFFF) != pc_get_u16(d->buf + n - 2)) {
        d->crc_errors++;
        return 0;
    }
    f->type = d->buf[0];
    f->seq = d->buf[1];
    f->payload = d->buf + 2;
    f->len = (uint16_t)(n - 4);
    d->frames++;
    return 1;
}
