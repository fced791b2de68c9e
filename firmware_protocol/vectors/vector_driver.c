/*
 * vector_driver.c: drives protocol_core.c from line commands so that a test can compare it
 * byte for byte with the shared vectors. Build: cc -std=c99 -DPC_RX_MAX=1024 -I<firmware>
 *   vector_driver.c protocol_core.c
 *
 * stdin, one command per line; all numbers decimal; field values as u32 (int32 as two's
 * complement, float32 as its bit pattern):
 *   C <text>                       -> "C <crc16 of text>"
 *   E <type> <seq> <n> v1 .. vn    -> "H <frame hex>"      fixed-layout message
 *   S <seq> <first> <t_us> <period> <channels> <count> <flags> v1 .. v(count*channels)
 *                                  -> "H <frame hex>"      SAMPLES
 *   D <hex>                        -> one "F <type> <seq> <fields...>" line per intact frame,
 *                                     then "END <frames> <crc_errors> <cobs_errors> <oversize>"
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol_core.h"

#define MAX_PAYLOAD 1024
static uint8_t payload[MAX_PAYLOAD];
static uint8_t frame[MAX_PAYLOAD + 16];
static char line[16384];

static void print_hex(const uint8_t *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) printf("%02x", p[i]);
}

static unsigned long next_ul(char **s) { return strtoul(*s, s, 10); }
static long next_l(char **s) { return strtol(*s, s, 10); }

static void print_fields(const pc_frame_t *f)
{
    const char *layout = pc_layout(f->type);
    printf("F %u %u", f->type, f->seq);
    if (f->type == PC_SAMPLES) {
        unsigned ch, count, i;
        if (f->len < PC_SAMPLES_HEADER_LEN) {
            printf(" BADLEN\n");
            return;
        }
        ch = f->payload[10];
        count = f->payload[11];
        printf(" %lu %lu %u %u %u %u", (unsigned long)pc_get_u32(f->payload),
               (unsigned long)pc_get_u32(f->payload + 4), pc_get_u16(f->payload + 8), ch,
               count, f->payload[12]);
        if (f->len != PC_SAMPLES_HEADER_LEN + 3u * ch * count) {
            printf(" BADLEN\n");
            return;
        }
        for (i = 0; i < ch * count; i++)
            printf(" %ld", (long)pc_get_i24(f->payload + PC_SAMPLES_HEADER_LEN + 3 * i));
        printf("\n");
        return;
    }
    if (layout == NULL) {
        printf(" UNKNOWN\n");
        return;
    }
    {
        pc_val_t vals[64];
        size_t i, n = pc_layout_count(layout);
        if (pc_unpack(layout, f->payload, f->len, vals) != 0) {
            printf(" BADLEN\n");
            return;
        }
        for (i = 0; i < n; i++) printf(" %lu", (unsigned long)vals[i].u);
        printf("\n");
    }
}

int main(void)
{
    while (fgets(line, sizeof line, stdin)) {
        char *s = line + 1;
        size_t len = 0, n;
        if (line[0] == 'C') {
            char *text = line + 2;
            text[strcspn(text, "\r\n")] = 0;
            printf("C %u\n", pc_crc16((const uint8_t *)text, strlen(text), 0xFFFF));
        } else if (line[0] == 'E') {
            pc_val_t vals[64];
            uint8_t type = (uint8_t)next_ul(&s), seq = (uint8_t)next_ul(&s);
            size_t i, count = next_ul(&s);
            const char *layout = pc_layout(type);
            if (layout == NULL || count != pc_layout_count(layout)) {
                printf("ERROR layout\n");
                continue;
            }
            for (i = 0; i < count; i++) vals[i].u = (uint32_t)next_ul(&s);
            len = pc_pack(layout, vals, payload);
            n = pc_frame_encode(type, seq, payload, len, frame, sizeof frame);
            printf("H ");
            print_hex(frame, n);
            printf("\n");
        } else if (line[0] == 'S') {
            uint8_t seq = (uint8_t)next_ul(&s);
            uint32_t first = (uint32_t)next_ul(&s), t_us = (uint32_t)next_ul(&s);
            uint32_t period = (uint32_t)next_ul(&s);
            uint8_t ch = (uint8_t)next_ul(&s), count = (uint8_t)next_ul(&s);
            uint8_t flags = (uint8_t)next_ul(&s);
            size_t i;
            len = pc_pack_samples_header(payload, first, t_us, period, ch, count, flags);
            for (i = 0; i < (size_t)ch * count; i++, len += 3)
                pc_put_i24(payload + len, (int32_t)next_l(&s));
            /* zero-copy use as in the firmware: payload already at its place in the frame */
            n = pc_frame_encode(PC_SAMPLES, seq, payload, len, frame, sizeof frame);
            printf("H ");
            print_hex(frame, n);
            printf("\n");
        } else if (line[0] == 'D') {
            static pc_decoder_t dec;
            pc_frame_t f;
            char *h = line + 2;
            pc_decoder_init(&dec);
            while (h[0] && h[1] && h[0] != '\n') {
                unsigned b;
                sscanf(h, "%2x", &b);
                h += 2;
                if (pc_decoder_feed(&dec, (uint8_t)b, &f)) print_fields(&f);
            }
            printf("END %u %u %u %u\n", dec.frames, dec.crc_errors, dec.cobs_errors,
                   dec.oversize);
        }
        fflush(stdout);
    }
    return 0;
}
