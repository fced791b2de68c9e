/*
 * protocol_core.h: the pressure-logger wire protocol in portable C99 (PROTOCOL.md).
 *
 * No I/O, no malloc, no Arduino: the sketch and the host-side vector test both build it.
 * Frame on the wire:  COBS( type:u8 seq:u8 payload crc16:u16le ) 0x00
 * CRC: CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, not reflected, no final xor).
 * Every multi-byte integer is little-endian; floats are IEEE-754 binary32 little-endian.
 */
#ifndef PROTOCOL_CORE_H
#define PROTOCOL_CORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PC_PROTOCOL_MAJOR 1
#define PC_PROTOCOL_MINOR 0
#define PC_UID_LEN 16
#define PC_SAMPLES_HEADER_LEN 13 /* first_index:u32 t_us:u32 period_us:u16 ch:u8 count:u8 flags:u8 */

/* Largest encoded frame (COBS bytes, without the 0x00) the decoder buffers. The device
 * only receives short commands; the host-side test builds with -DPC_RX_MAX=1024. */
#ifndef PC_RX_MAX
#define PC_RX_MAX 64
#endif

enum pc_msg_type {
    PC_HELLO = 0x01, PC_START = 0x02, PC_STOP = 0x03, PC_SET_RATE = 0x04,
    PC_GET_STATUS = 0x05, PC_PING = 0x06, PC_SET_LIMITS = 0x07, PC_STORE_CAL = 0x08,
    PC_IDENTITY = 0x81, PC_SAMPLES = 0x82, PC_ACK = 0x83, PC_NAK = 0x84,
    PC_STATUS = 0x85, PC_PONG = 0x86, PC_EVENT = 0x87, PC_HEARTBEAT = 0x88
};

enum pc_adc_kind { PC_ADC_UNKNOWN = 0, PC_ADC_HX711 = 1, PC_ADC_NAU7802 = 2,
                   PC_ADC_AVR_ANALOG = 3, PC_ADC_SIMULATED = 4 };
enum pc_capability { PC_CAP_BUZZER = 0x01, PC_CAP_LED = 0x02, PC_CAP_MARK_BUTTON = 0x04,
                     PC_CAP_EEPROM_CAL = 0x08, PC_CAP_CLIENT_BUTTON = 0x10, PC_CAP_EVAS = 0x20 };
enum pc_sample_flag { PC_FLAG_SATURATED = 0x01, PC_FLAG_ADC_TIMEOUT = 0x02 };
enum pc_event_kind { PC_EVENT_MARK_BUTTON = 1, PC_EVENT_LIMIT_CROSSED = 2,
                     PC_EVENT_ADC_FAULT = 3, PC_EVENT_SCRIPT_END = 4,
                     PC_EVENT_CLIENT_BUTTON = 5, PC_EVENT_RATING = 6 };
enum pc_nak_code { PC_NAK_UNKNOWN_COMMAND = 1, PC_NAK_BAD_LENGTH = 2, PC_NAK_BAD_VALUE = 3,
                   PC_NAK_BUSY = 4, PC_NAK_UNSUPPORTED = 5 };

/* ------------------------------------------------------------------ checksums, COBS */

uint16_t pc_crc16(const uint8_t *data, size_t len, uint16_t crc); /* start with 0xFFFF */

/* Encode len bytes into out (room for len + len/254 + 1 bytes). Returns the output length. */
size_t pc_cobs_encode(const uint8_t *in, size_t len, uint8_t *out);

/* Decode (in may equal out: in-place is safe). Returns the length, or -1 if malformed. */
int pc_cobs_decode(const uint8_t *in, size_t len, uint8_t *out);

/* ------------------------------------------------------------------------ payloads */

/* One field value of a fixed layout: unsigned, signed or float, as its layout letter says. */
typedef union {
    uint32_t u;
    int32_t i;
    float f;
} pc_val_t;

/*
 * Layout of a fixed-size payload as a string of field letters, in wire order:
 *   B u8, H u16, I u32, i i32, f float32. (The 16 uid bytes of IDENTITY are 16 'B'.)
 * Returns NULL for SAMPLES (variable) and for unknown types.
 */
const char *pc_layout(uint8_t type);
size_t pc_layout_size(const char *layout); /* payload bytes */
size_t pc_layout_count(const char *layout); /* number of fields */

/* Pack fields into out; returns the payload length. */
size_t pc_pack(const char *layout, const pc_val_t *vals, uint8_t *out);
/* Unpack; a payload longer than the layout is accepted (a newer minor appended fields).
 * Returns 0 on success, -1 if the payload is too short. */
int pc_unpack(const char *layout, const uint8_t *in, size_t len, pc_val_t *vals);

/* Little-endian helpers (also used for SAMPLES). */
void pc_put_u16(uint8_t *p, uint16_t v);
void pc_put_u32(uint8_t *p, uint32_t v);
void pc_put_i24(uint8_t *p, int32_t v); /* clipped to -8388608..8388607 */
uint16_t pc_get_u16(const uint8_t *p);
uint32_t pc_get_u32(const uint8_t *p);
int32_t pc_get_i24(const uint8_t *p);

/* SAMPLES header; the int24 values follow it (count * channels of them, row-major). */
size_t pc_pack_samples_header(uint8_t *out, uint32_t first_index, uint32_t t_us,
                              uint32_t period_us, uint8_t channels, uint8_t count,
                              uint8_t flags); /* period_us saturates at 65535 */

/* ------------------------------------------------------------------------- frames */

/* Encoded size of a frame with a payload of len bytes, including the 0x00 delimiter. */
size_t pc_frame_size(size_t payload_len);

/* Build a complete frame (COBS + delimiter) into out; cap is out's size. The payload may
 * live inside out at offset PC_FRAME_PAYLOAD_OFFSET (zero-copy: see pc_frame_finish).
 * Returns the frame length, or 0 if it does not fit. */
size_t pc_frame_encode(uint8_t type, uint8_t seq, const uint8_t *payload, size_t len,
                       uint8_t *out, size_t cap);

/* ------------------------------------------------------------------------ decoder */

typedef struct {
    uint8_t type;
    uint8_t seq;
    const uint8_t *payload; /* points into the decoder's buffer: valid until the next feed */
    uint16_t len;
} pc_frame_t;

typedef struct {
    uint8_t buf[PC_RX_MAX];
    uint16_t len;
    uint8_t discarding; /* an oversize frame: drop bytes until the next delimiter */
    uint16_t frames, crc_errors, cobs_errors, oversize; /* wrap at 65535 */
} pc_decoder_t;

void pc_decoder_init(pc_decoder_t *d);

/* Feed one byte. Returns 1 when it completed an intact frame (filled into *f), else 0.
 * Damaged frames are counted in the decoder and skipped; this never fails. */
int pc_decoder_feed(pc_decoder_t *d, uint8_t byte, pc_frame_t *f);

#ifdef __cplusplus
}
#endif

#endif /* PROTOCOL_CORE_H */
