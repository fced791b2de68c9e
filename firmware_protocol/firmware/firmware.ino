/*
 * pressure-logger firmware for Arduino Uno / Nano (ATmega328P) + HX711 load-cell ADC.
 *
 * Speaks the binary protocol of ../PROTOCOL.md through protocol_core.c: HELLO/IDENTITY
 * handshake, batched SAMPLES (every HX711 conversion is numbered, so the host counts lost
 * samples exactly), ACK/NAK commands, PING/PONG, events (mark button, client button,
 * limit crossed, ADC fault, the client's pain rating), a heartbeat while idle, the
 * on-device buzzer/LED alarm set by SET_LIMITS, and the uid + factory calibration kept in
 * EEPROM.
 *
 * Nothing in loop() waits: the HX711 is polled for "data ready" and read only then, with
 * interrupts off for the 24-bit shift alone (~60 us); the eVAS potentiometer is converted
 * by the AVR's ADC in the background (started, then collected on a later pass); serial
 * bytes are handled as they arrive; samples leave in batches once the oldest is 20 ms old.
 * Between passes the CPU idles until an interrupt: the millis() timer (every 1.024 ms), a
 * serial byte, or a level change on DOUT or a button pin, so that "data ready" and a press
 * are still seen within microseconds. That interrupt also notes when DOUT fell and when a
 * button was pressed: the time stamps, however long the loop took to get to them.
 *
 * Wiring (see README.md): HX711 DOUT -> D3, SCK -> D4, RATE -> D5 (optional),
 * mark button D2 -> GND, client button D6 -> GND, eVAS potentiometer wiper -> A1 (ends on
 * GND and 5V), active buzzer D8 -> GND, LED on D13 (built in).
 */
#include <Arduino.h>
#include <avr/eeprom.h>
#ifdef __AVR__
#include <avr/sleep.h>
#endif

#include "protocol_core.h"

/* ------------------------------------------------------------------ configuration */

#define FW_MAJOR 1
#define FW_MINOR 1
#define FW_PATCH 1
#define BAUD 115200UL

#define PIN_HX_DOUT 3
#define PIN_HX_SCK 4
#define PIN_HX_RATE 5 /* HX711 RATE pin: LOW 10 SPS, HIGH 80 SPS. -1 if hard-wired. */
#define HX_RATE_DEFAULT_HZ 80 /* what the RATE pin is driven to at boot (or wired to) */
#define PIN_MARK 2
#define PIN_CLIENT 6 /* the client's button (or pedal): "now, it hurts" */
/* The eVAS (electronic pain scale): a potentiometer's wiper on this analog pin. Without a
 * pot the pin floats and reads noise: build with PL_EVAS 0 on a board that has none. */
#ifndef PL_EVAS
#define PL_EVAS 1
#endif
#define PIN_EVAS A1
#define PIN_BUZZER 8
#define PIN_LED LED_BUILTIN
/* #define BUZZER_PASSIVE 2000  -- uncomment for a passive piezo: tone() at this Hz */

#define BATCH_MAX 16          /* samples per frame at most */
#define BATCH_AGE_US 20000UL  /* send a frame once its first sample is this old */
#define HEARTBEAT_US 1000000UL
#define DEBOUNCE_MS 30
#define ADC_TIMEOUT_PERIODS 3 /* a conversion this many periods late is an ADC fault */
#define EVAS_READ_US 10000UL  /* one eVAS conversion every 10 ms */
#define EVAS_SEND_US 50000UL  /* at most one RATING event every 50 ms */
#define EVAS_STEP 10          /* hundredths: send once the rating moved by 0.1 */

/* Largest frame we send: SAMPLES with BATCH_MAX samples (IDENTITY is smaller). */
#define TX_PAYLOAD_MAX (PC_SAMPLES_HEADER_LEN + 3 * BATCH_MAX)
#define TX_FRAME_MAX (TX_PAYLOAD_MAX + 4 + 2 + 1)

/* ------------------------------------------------------------------------- state */

struct EepromImage {
    uint8_t magic[2]; /* 'P' 'L' */
    uint8_t version;
    char uid[PC_UID_LEN];
    float counts_per_n; /* 0.0: no factory calibration */
    int32_t offset_counts;
    uint16_t crc;
};

static EepromImage ee;
static pc_decoder_t rx;
static uint8_t tx[TX_FRAME_MAX];
static uint8_t tx_seq;

static bool streaming;
static uint16_t rate_hz = HX_RATE_DEFAULT_HZ;
static uint32_t period_us = 1000000UL / HX_RATE_DEFAULT_HZ;

static uint32_t sample_index; /* every conversion since boot, streaming or not */
static int32_t last_raw;
static uint32_t last_conv_us;
static bool adc_faulted;
static bool adc_seen; /* a conversion arrived since power-up */

static uint8_t batch[3 * BATCH_MAX];
static uint8_t batch_count;
static uint8_t batch_flags;
static uint32_t batch_first_index, batch_t_us;

static uint16_t adc_timeouts, overruns;
static uint32_t last_heartbeat_us;

static bool limits_on;
static int32_t warn_counts, max_counts;
static int8_t limit_dir; /* +1: force raises counts; -1: it lowers them */
static bool over[2];     /* at/over warn, at/over max (each with its own hysteresis) */

struct Button {
    uint8_t pin, event_kind;
    uint8_t stable, last;
    /* the press's first falling edge is timed (by the pin-change interrupt, else by the
     * loop); bounces are not */
    volatile bool edge_taken;
    uint32_t changed_ms;
    volatile uint32_t edge_us;
};
static Button buttons[] = {
    {PIN_MARK, PC_EVENT_MARK_BUTTON, HIGH, HIGH, false, 0, 0},
    {PIN_CLIENT, PC_EVENT_CLIENT_BUTTON, HIGH, HIGH, false, 0, 0},
};

#if PL_EVAS
static bool evas_busy;        /* a conversion is under way */
static bool evas_due;         /* send the next reading whatever it is (streaming started) */
static uint32_t evas_t_us;    /* when the latest conversion started */
static int16_t evas_rating = -1; /* the latest reading, hundredths (-1: none yet) */
static uint32_t evas_rating_us;  /* when its conversion started */
static uint32_t evas_sent_us;
static int16_t evas_sent;     /* the rating last sent */
#endif

/* HX711 pins as port registers, so the shift loop is fast with interrupts off */
static volatile uint8_t *sck_port;
static uint8_t sck_mask;
static volatile uint8_t *dout_pin;
static uint8_t dout_mask;
/* When DOUT fell ("data ready"), taken by the pin-change interrupt: a sample is stamped
 * with the moment its conversion ended, not with when the loop got to it (handling a
 * command first, or waiting for room to send, took up to ~360 us). */
static volatile bool dout_fell;
static volatile uint32_t dout_fell_us;

/* ------------------------------------------------------------------------ output */

static void send(uint8_t type, const uint8_t *payload, size_t len)
{
    size_t n = pc_frame_encode(type, tx_seq++, payload, len, tx, sizeof tx);
    if (n) Serial.write(tx, n);
}

static void send_fields(uint8_t type, const pc_val_t *vals)
{
    uint8_t payload[48];
    send(type, payload, pc_pack(pc_layout(type), vals, payload));
}

static void send_ack(uint8_t seq, uint8_t type)
{
    pc_val_t v[2];
    v[0].u = seq;
    v[1].u = type;
    send_fields(PC_ACK, v);
}

static void send_nak(uint8_t seq, uint8_t type, uint8_t code)
{
    pc_val_t v[3];
    v[0].u = seq;
    v[1].u = type;
    v[2].u = code;
    send_fields(PC_NAK, v);
}

static void send_event(uint8_t kind, uint32_t t_us, int32_t arg)
{
    pc_val_t v[3];
    v[0].u = kind;
    v[1].u = t_us;
    v[2].i = arg;
    send_fields(PC_EVENT, v);
}

static void send_identity(void)
{
    pc_val_t v[35];
    uint8_t i, k = 0;
    v[k++].u = PC_PROTOCOL_MAJOR;
    v[k++].u = PC_PROTOCOL_MINOR;
    v[k++].u = FW_MAJOR;
    v[k++].u = FW_MINOR;
    v[k++].u = FW_PATCH;
    for (i = 0; i < PC_UID_LEN; i++) v[k++].u = (uint8_t)ee.uid[i];
    v[k++].u = PC_ADC_HX711;
    v[k++].u = 24;
    v[k++].u = 1; /* channels */
    v[k++].u = rate_hz;
    v[k++].u = PIN_HX_RATE >= 0 ? 10 : rate_hz;
    v[k++].u = PIN_HX_RATE >= 0 ? 80 : rate_hz;
    v[k++].f = ee.counts_per_n;
    v[k++].i = ee.offset_counts;
    v[k++].u = pc_frame_size(TX_PAYLOAD_MAX); /* max_frame: whole frame with its 0x00 */
    v[k++].u = PC_CAP_BUZZER | PC_CAP_LED | PC_CAP_MARK_BUTTON | PC_CAP_EEPROM_CAL |
               PC_CAP_CLIENT_BUTTON | (PL_EVAS ? PC_CAP_EVAS : 0);
    send_fields(PC_IDENTITY, v);
}

static void flush_batch(void)
{
    if (!batch_count) return;
    uint8_t *payload = tx + (sizeof tx - TX_PAYLOAD_MAX); /* built in place, no copy */
    size_t len = pc_pack_samples_header(payload, batch_first_index, batch_t_us, period_us, 1,
                                        batch_count, batch_flags);
    memcpy(payload + len, batch, 3u * batch_count);
    len += 3u * batch_count;
    send(PC_SAMPLES, payload, len);
    batch_count = 0;
    batch_flags = 0;
}

/* ----------------------------------------------------------------------- EEPROM */

static uint16_t ee_crc(const EepromImage *img)
{
    return pc_crc16((const uint8_t *)img, offsetof(EepromImage, crc), 0xFFFF);
}

static void ee_save(void)
{
    ee.crc = ee_crc(&ee);
    eeprom_update_block(&ee, (void *)0, sizeof ee);
}

static void ee_load(void)
{
    static const char hex[] = "0123456789ABCDEF";
    eeprom_read_block(&ee, (const void *)0, sizeof ee);
    if (ee.magic[0] == 'P' && ee.magic[1] == 'L' && ee.version == 1 && ee.crc == ee_crc(&ee))
        return;
    /* First boot: a uid from ADC noise of floating pins and the boot time. */
    uint32_t seed = micros();
    for (uint8_t i = 0; i < 32; i++) seed = seed * 31 + analogRead(A0 + (i & 3));
    randomSeed(seed);
    memset(&ee, 0, sizeof ee);
    ee.magic[0] = 'P';
    ee.magic[1] = 'L';
    ee.version = 1;
    memcpy(ee.uid, "PL-", 3);
    for (uint8_t i = 0; i < 8; i++) ee.uid[3 + i] = hex[random(16)];
    ee.counts_per_n = 0.0f;
    ee.offset_counts = 0;
    ee_save();
}

/* ------------------------------------------------------------------------- HX711 */

static void set_rate_pin(uint16_t hz)
{
#if PIN_HX_RATE >= 0
    digitalWrite(PIN_HX_RATE, hz == 80 ? HIGH : LOW);
#endif
    rate_hz = hz;
    period_us = 1000000UL / hz;
}

static int32_t hx711_shift_in(void)
{
    /* 24 data bits MSB first, then one more pulse: channel A, gain 128 next time.
     * SCK high for more than 60 us powers the chip down, so no interrupt may stretch a
     * pulse: interrupts are off for these ~25 pulses only. */
    uint32_t v = 0;
    uint8_t sreg = SREG;
    cli();
    for (uint8_t i = 0; i < 25; i++) {
        *sck_port |= sck_mask;
        delayMicroseconds(1);
        if (i < 24) v = (v << 1) | ((*dout_pin & dout_mask) ? 1 : 0);
        *sck_port &= (uint8_t)~sck_mask;
        delayMicroseconds(1);
    }
    SREG = sreg;
    if (v & 0x800000UL) v |= 0xFF000000UL; /* sign-extend 24 -> 32 bits */
    return (int32_t)v;
}

/* ---------------------------------------------------------------- limits & alarm */

/* PROTOCOL.md §9: a limit is passed when raw reaches it (in the direction of force) and
 * left when raw falls 2 % of (limit - factory zero) below it; one event each way. */
static void update_limits(int32_t raw, uint32_t t_us)
{
    if (!limits_on) return;
    const int32_t limit[2] = {warn_counts, max_counts};
    for (uint8_t k = 0; k < 2; k++) {
        int32_t x = limit_dir * raw, hi = limit_dir * limit[k];
        int32_t hyst = labs(limit[k] - ee.offset_counts) / 50;
        if (hyst < 1) hyst = 1;
        bool now = over[k] ? x > hi - hyst : x >= hi;
        if (now != over[k]) {
            over[k] = now;
            send_event(PC_EVENT_LIMIT_CROSSED, t_us, now ? (k + 1) : -(int32_t)(k + 1));
        }
    }
}

static void drive_alarm(void)
{
    /* max: continuous; warn: 100 ms beep every 500 ms; otherwise silent */
    bool on = limits_on && (over[1] || (over[0] && (millis() % 500) < 100));
    digitalWrite(PIN_LED, on ? HIGH : LOW);
#ifdef BUZZER_PASSIVE
    static bool sounding;
    if (on && !sounding) tone(PIN_BUZZER, BUZZER_PASSIVE);
    if (!on && sounding) noTone(PIN_BUZZER);
    sounding = on;
#else
    digitalWrite(PIN_BUZZER, on ? HIGH : LOW);
#endif
}

/* ------------------------------------------------------------------------ samples */

static void take_sample(int32_t raw, uint32_t t_us, uint8_t flags)
{
    uint32_t index = sample_index++;
    if (raw >= 8388607L || raw <= -8388608L) flags |= PC_FLAG_SATURATED;
    update_limits(raw, t_us);
    if (!streaming) return;
    if (batch_count == BATCH_MAX) {
        flush_batch();
        if (batch_count == BATCH_MAX) { /* cannot happen unless send failed */
            overruns++;
            return;
        }
    }
    if (batch_count == 0) {
        batch_first_index = index;
        batch_t_us = t_us;
    }
    pc_put_i24(batch + 3 * batch_count, raw);
    batch_count++;
    batch_flags |= flags;
}

static void poll_adc(void)
{
    uint32_t now = micros();
    if (!(*dout_pin & dout_mask)) { /* DOUT low: a conversion is ready */
        uint8_t sreg = SREG;
        cli();
        uint32_t ready_us = dout_fell ? dout_fell_us : now;
        SREG = sreg;
        /* Back after a fault: stand in for the conversions still missing since the last
         * stand-in (they run ADC_TIMEOUT_PERIODS behind), so that consecutive indexes stay
         * one period apart in time and the host sees no jump of its clock. */
        while (adc_faulted && ready_us - last_conv_us >= period_us + period_us / 2) {
            adc_timeouts++;
            last_conv_us += period_us;
            take_sample(last_raw, last_conv_us, PC_FLAG_ADC_TIMEOUT);
        }
        last_raw = hx711_shift_in();
        dout_fell = false; /* after the read: its own changes of DOUT are no new data */
        last_conv_us = ready_us;
        adc_seen = true;
        adc_faulted = false;
        take_sample(last_raw, ready_us, 0);
        return;
    }
    /* After power-up the HX711 needs up to ~0.4 s to settle: no fault before 1 s. */
    uint32_t limit = adc_seen ? ADC_TIMEOUT_PERIODS * period_us : 1000000UL;
    if (now - last_conv_us > limit) {
        /* The ADC missed conversions: stand in for each one with the last value, flagged,
         * so the index keeps counting in nominal time and the host sees the fault rather
         * than a silent gap. One stand-in per pass keeps the loop short. */
        if (!adc_faulted) send_event(PC_EVENT_ADC_FAULT, now, 0);
        adc_faulted = true;
        adc_seen = true;
        adc_timeouts++;
        last_conv_us += period_us;
        take_sample(last_raw, last_conv_us, PC_FLAG_ADC_TIMEOUT);
    }
}

/* ----------------------------------------------------------------------- commands */

static bool in_int24(int32_t v) { return v >= -8388608L && v <= 8388607L; }

static void handle(const pc_frame_t *f)
{
    const char *layout = pc_layout(f->type);
    pc_val_t v[4];
    if (f->type >= 0x80 || layout == NULL) {
        send_nak(f->seq, f->type, PC_NAK_UNKNOWN_COMMAND);
        return;
    }
    if (pc_unpack(layout, f->payload, f->len, v) != 0) {
        send_nak(f->seq, f->type, PC_NAK_BAD_LENGTH);
        return;
    }
    switch (f->type) {
    case PC_HELLO: /* a (new) host: stop streaming, say who we are; limits stay armed */
        flush_batch();
        streaming = false;
        send_identity();
        break;
    case PC_START:
        batch_count = 0;
        streaming = true;
#if PL_EVAS
        evas_due = true; /* the host learns the current rating at once */
#endif
        send_ack(f->seq, f->type);
        break;
    case PC_STOP:
        flush_batch();
        streaming = false;
        send_ack(f->seq, f->type);
        break;
    case PC_SET_RATE:
        if (streaming) {
            send_nak(f->seq, f->type, PC_NAK_BUSY);
        } else if (PIN_HX_RATE >= 0 ? (v[0].u == 10 || v[0].u == 80) : v[0].u == rate_hz) {
            flush_batch();
            set_rate_pin((uint16_t)v[0].u);
            send_ack(f->seq, f->type);
        } else {
            send_nak(f->seq, f->type, PIN_HX_RATE >= 0 ? PC_NAK_BAD_VALUE : PC_NAK_UNSUPPORTED);
        }
        break;
    case PC_GET_STATUS: {
        pc_val_t s[6];
        s[0].u = millis();
        s[1].u = streaming;
        s[2].u = rate_hz;
        s[3].u = (uint16_t)(rx.crc_errors + rx.cobs_errors);
        s[4].u = adc_timeouts;
        s[5].u = overruns;
        send_fields(PC_STATUS, s);
        break;
    }
    case PC_PING: {
        pc_val_t p[2];
        p[0].u = v[0].u;
        p[1].u = micros();
        send_fields(PC_PONG, p);
        break;
    }
    case PC_SET_LIMITS: {
        if (!in_int24(v[0].i) || !in_int24(v[1].i)) {
            send_nak(f->seq, f->type, PC_NAK_BAD_VALUE);
            break;
        }
        limits_on = v[2].u != 0;
        warn_counts = v[0].i;
        max_counts = v[1].i;
        /* direction of force: from the order of the limits, else the factory slope */
        if (max_counts != warn_counts) limit_dir = max_counts > warn_counts ? 1 : -1;
        else limit_dir = ee.counts_per_n < 0.0f ? -1 : 1;
        over[0] = over[1] = false;
        send_ack(f->seq, f->type);
        break;
    }
    case PC_STORE_CAL:
        if (!(v[0].f == v[0].f) || v[0].f == 0.0f || isinf(v[0].f) || !in_int24(v[1].i)) {
            send_nak(f->seq, f->type, PC_NAK_BAD_VALUE);
            break;
        }
        ee.counts_per_n = v[0].f;
        ee.offset_counts = v[1].i;
        ee_save();
        send_ack(f->seq, f->type);
        break;
    default:
        send_nak(f->seq, f->type, PC_NAK_UNKNOWN_COMMAND);
    }
}

/* ------------------------------------------------------------------------ buttons */

/* The next HX711 conversion is at least half a period away (or the ADC is down), so the
 * ~0.2 ms it takes to encode and queue an event frame keeps no sample waiting: events that
 * may wait a few ms are sent then, and the samples' times stay as steady as without them. */
static bool between_conversions(void)
{
    return adc_faulted || micros() - last_conv_us < period_us / 2;
}

/* A button's pin is low: the press's time, unless its first falling edge is timed already
 * (the contacts' bounces after it are not presses). With interrupts off. */
static void take_edge(Button *b)
{
    if (!b->edge_taken) {
        b->edge_us = micros();
        b->edge_taken = true;
    }
}

/* The mark and client buttons: debounced (DEBOUNCE_MS), one event per press, timed at the
 * press's first falling edge: by the pin-change interrupt, so a command being answered then
 * does not delay it (the loop times it where there is no such interrupt). */
static void poll_button(Button *b)
{
    uint8_t now = digitalRead(b->pin);
    uint32_t ms = millis();
    if (now != b->last) {
        b->last = now;
        b->changed_ms = ms;
        if (now == LOW) {
            uint8_t sreg = SREG;
            cli();
            take_edge(b);
            SREG = sreg;
        }
    } else if (ms - b->changed_ms >= DEBOUNCE_MS) {
        if (now != b->stable && between_conversions()) {
            b->stable = now;
            if (now == LOW) send_event(b->event_kind, b->edge_us, 0);
        }
        /* settled released (a release, or a glitch that never became a press): the next
         * falling edge starts a new press */
        if (now == HIGH) b->edge_taken = false;
    }
}

/* --------------------------------------------------------------------------- eVAS */

#if PL_EVAS
#ifdef ADSC
/* The AVR's ADC converts in the background (104 us at the core's 125 kHz ADC clock):
 * started on one pass of loop(), collected on a later one, so the HX711 is never kept
 * waiting. The reference is AVcc, as analogRead()'s default. */
static void evas_start(void)
{
    ADMUX = _BV(REFS0) | ((PIN_EVAS - A0) & 0x07);
    ADCSRA |= _BV(ADSC);
}
static bool evas_done(void) { return !(ADCSRA & _BV(ADSC)); }
static uint16_t evas_result(void) { return ADC; }
#else
/* Boards without the AVR's registers (and the host-side test board): analogRead(). */
static uint16_t evas_value;
static void evas_start(void) { evas_value = analogRead(PIN_EVAS); }
static bool evas_done(void) { return true; }
static uint16_t evas_result(void) { return evas_value; }
#endif

/* RATING (PROTOCOL.md §4): 0..1023 -> 0..1000 hundredths, rounded, timed at the start of
 * its conversion; sent while streaming, once at its start and then whenever it moved by
 * EVAS_STEP, at most every EVAS_SEND_US. */
static void poll_evas(void)
{
    if (!evas_busy && micros() - evas_t_us >= EVAS_READ_US) {
        evas_t_us = micros();
        evas_start();
        evas_busy = true;
    }
    if (evas_busy && evas_done()) {
        evas_busy = false;
        evas_rating = (int16_t)((2000UL * evas_result() + 1023) / 2046);
        evas_rating_us = evas_t_us;
    }
    if (!streaming || evas_rating < 0 || !between_conversions()) return;
    bool moved = abs(evas_rating - evas_sent) >= EVAS_STEP;
    if (!evas_due && (!moved || evas_rating_us - evas_sent_us < EVAS_SEND_US)) return;
    send_event(PC_EVENT_RATING, evas_rating_us, evas_rating);
    evas_sent = evas_rating;
    evas_sent_us = evas_rating_us;
    evas_due = false;
}
#endif

/* --------------------------------------------------------------------------- idle */

#ifdef __AVR__
static volatile bool pin_changed; /* DOUT or a button changed since the last pass began */

static inline void pin_change(void)
{
    pin_changed = true;
    if (!dout_fell && !(*dout_pin & dout_mask)) {
        dout_fell_us = micros();
        dout_fell = true;
    }
    for (uint8_t i = 0; i < sizeof buttons / sizeof buttons[0]; i++)
        if (digitalRead(buttons[i].pin) == LOW) take_edge(&buttons[i]);
}

ISR(PCINT0_vect) { pin_change(); }
ISR(PCINT1_vect) { pin_change(); }
ISR(PCINT2_vect) { pin_change(); }

static void wake_on_change(uint8_t pin)
{
    *digitalPinToPCMSK(pin) |= _BV(digitalPinToPCMSKbit(pin));
    PCICR |= _BV(digitalPinToPCICRbit(pin));
}

static void idle_setup(void)
{
    wake_on_change(PIN_HX_DOUT);
    for (uint8_t i = 0; i < sizeof buttons / sizeof buttons[0]; i++)
        wake_on_change(buttons[i].pin);
    set_sleep_mode(SLEEP_MODE_IDLE); /* timers, serial and the ADC keep running */
}

/* Sleep until the next interrupt, unless what it would wake us for has already happened
 * (checked with interrupts off; the instruction after sei() runs before any interrupt, so
 * one that comes meanwhile ends the sleep at once). */
static void idle(void)
{
    cli();
    if (!pin_changed && (*dout_pin & dout_mask) && Serial.available() == 0) {
        sleep_enable();
        sei();
        sleep_cpu();
        sleep_disable();
    }
    pin_changed = false;
    sei();
}
#else
static void idle_setup(void) {} /* the host-side test board: no sleep */
static void idle(void) {}
#endif

/* ---------------------------------------------------------------------- main loop */

void setup()
{
    pinMode(PIN_HX_SCK, OUTPUT);
    digitalWrite(PIN_HX_SCK, LOW);
    pinMode(PIN_HX_DOUT, INPUT);
#if PIN_HX_RATE >= 0
    pinMode(PIN_HX_RATE, OUTPUT);
#endif
    set_rate_pin(HX_RATE_DEFAULT_HZ);
    sck_port = portOutputRegister(digitalPinToPort(PIN_HX_SCK));
    sck_mask = digitalPinToBitMask(PIN_HX_SCK);
    dout_pin = portInputRegister(digitalPinToPort(PIN_HX_DOUT));
    dout_mask = digitalPinToBitMask(PIN_HX_DOUT);
    pinMode(PIN_MARK, INPUT_PULLUP);
    pinMode(PIN_CLIENT, INPUT_PULLUP);
    pinMode(PIN_BUZZER, OUTPUT);
    pinMode(PIN_LED, OUTPUT);
    ee_load();
    pc_decoder_init(&rx);
    Serial.begin(BAUD);
    last_conv_us = micros();
    last_heartbeat_us = last_conv_us;
    idle_setup();
}

void loop()
{
    pc_frame_t f;
    while (Serial.available() > 0) {
        if (pc_decoder_feed(&rx, (uint8_t)Serial.read(), &f)) handle(&f);
    }
    poll_adc();
    for (uint8_t i = 0; i < sizeof buttons / sizeof buttons[0]; i++) poll_button(&buttons[i]);
#if PL_EVAS
    poll_evas();
#endif
    drive_alarm();
    uint32_t now = micros();
    if (batch_count && (now - batch_t_us >= BATCH_AGE_US || batch_count == BATCH_MAX))
        flush_batch();
    if (!streaming && now - last_heartbeat_us >= HEARTBEAT_US) {
        pc_val_t h[2];
        h[0].u = now;
        h[1].u = 0;
        send_fields(PC_HEARTBEAT, h);
        last_heartbeat_us = now;
    }
    idle();
}
