/*
 * board.cpp: a host-side Uno with an HX711, driven by line commands on stdin, for
 * tests/firmware_protocol/test_firmware.py. firmware.ino runs unchanged on top of it.
 *
 *   RUN <us>       run loop() until the board clock reaches <us>; print "TX <hex>" (bytes
 *                  the sketch sent since the last RUN)
 *   RX <hex>       bytes arriving from the host
 *   VAL <counts>   the value the HX711 converts from now on (clipped to 24 bits)
 *   ADC on|off     the HX711 converts / stops converting (unplugged, broken)
 *   BTN 1|0        mark button pressed / released
 *   CBTN 1|0       client button pressed / released
 *   EVAS <0..1023> what analogRead() of the eVAS pin (A1) returns from now on
 *   PIN <n>        print "PIN <n> <level>" (buzzer D8, LED D13, RATE D5)
 *   EE             print "EE <hex>" of the EEPROM
 * argv[1] (optional): EEPROM contents in hex, as printed by EE (a board that rebooted).
 */
#include <stdio.h>

#include "Arduino.h"
#include "avr/eeprom.h"

#define LOOP_US 20 /* the sketch's loop is fast; the clock advances this much per pass */

uint8_t SREG;
HardwareSerial Serial;

static uint64_t now_us;
static uint8_t out_reg[32], in_reg[32], prev_sck;
static uint8_t eeprom[1024];
static uint8_t rx[4096];
static size_t rx_head, rx_tail;
static uint8_t tx[1 << 20];
static size_t tx_len;
static bool button_pressed, client_pressed;
static int evas_counts;
static unsigned long rng = 12345;

/* HX711 */
static int32_t adc_value;
static bool adc_on = true;
static uint64_t next_conv_us = 100000; /* first conversion after power-up settling */
static bool hx_ready;
static int32_t hx_shift_value;
static int hx_bit;

enum { PIN_DOUT = 3, PIN_SCK = 4, PIN_RATE = 5, PIN_MARK = 2, PIN_CLIENT = 6, PIN_EVAS = A1 };

static void hx711_tick(void)
{
    uint64_t period = out_reg[PIN_RATE] ? 12500 : 100000;
    while (now_us >= next_conv_us) {
        if (adc_on) {
            hx_ready = true;
            hx_shift_value = adc_value;
            hx_bit = 0;
        }
        next_conv_us += period;
    }
    if (hx_bit == 0) in_reg[PIN_DOUT] = hx_ready ? 0 : 1;
}

static void hx711_clock(void)
{
    uint8_t sck = out_reg[PIN_SCK] & 1;
    if (sck && !prev_sck) { /* rising edge: shift out the next bit, MSB first */
        if (hx_bit < 24) {
            in_reg[PIN_DOUT] = (uint8_t)(((uint32_t)hx_shift_value >> (23 - hx_bit)) & 1);
            hx_bit++;
        } else { /* 25th pulse: gain 128 next time; DOUT high until the next conversion */
            hx_ready = false;
            hx_bit = 0;
            in_reg[PIN_DOUT] = 1;
        }
    }
    prev_sck = sck;
}

void pinMode(uint8_t, uint8_t) {}
void digitalWrite(uint8_t pin, uint8_t level) { out_reg[pin] = level ? 1 : 0; }
int digitalRead(uint8_t pin)
{
    if (pin == PIN_MARK) return button_pressed ? LOW : HIGH;
    if (pin == PIN_CLIENT) return client_pressed ? LOW : HIGH;
    if (pin == PIN_DOUT) return in_reg[pin];
    return out_reg[pin];
}
unsigned long micros(void) { return (unsigned long)(uint32_t)now_us; }
unsigned long millis(void) { return (unsigned long)(uint32_t)(now_us / 1000); }
void delayMicroseconds(unsigned int us)
{
    hx711_clock();
    now_us += us;
}
int analogRead(uint8_t pin)
{
    if (pin == PIN_EVAS) return evas_counts;
    return (int)((pin * 7919u + (unsigned)now_us) & 1023u); /* a floating pin: noise */
}
void randomSeed(unsigned long seed) { rng = seed ? seed : 1; }
long random(long howbig)
{
    rng = rng * 1103515245ul + 12345ul;
    return (long)((rng >> 16) % (unsigned long)howbig);
}
void tone(uint8_t pin, unsigned int) { out_reg[pin] = 1; }
void noTone(uint8_t pin) { out_reg[pin] = 0; }
uint8_t digitalPinToPort(uint8_t pin) { return pin; }
uint8_t digitalPinToBitMask(uint8_t) { return 1; }
volatile uint8_t *portOutputRegister(uint8_t port) { return &out_reg[port]; }
volatile uint8_t *portInputRegister(uint8_t port) { return &in_reg[port]; }

void HardwareSerial::begin(unsigned long) {}
int HardwareSerial::available(void) { return (int)(rx_tail - rx_head); }
int HardwareSerial::read(void) { return rx_head < rx_tail ? rx[rx_head++] : -1; }
size_t HardwareSerial::write(const uint8_t *buf, size_t n)
{
    if (tx_len + n > sizeof tx) n = sizeof tx - tx_len;
    memcpy(tx + tx_len, buf, n);
    tx_len += n;
    return n;
}

void eeprom_read_block(void *dst, const void *src, size_t n)
{
    memcpy(dst, eeprom + (size_t)src, n);
}
void eeprom_update_block(const void *src, void *dst, size_t n)
{
    memcpy(eeprom + (size_t)dst, src, n);
}

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    size_t n = 0;
    unsigned b;
    while (n < cap && sscanf(h, "%2x", &b) == 1) {
        out[n++] = (uint8_t)b;
        h += 2;
    }
    return n;
}

int main(int argc, char **argv)
{
    static char line[1 << 16];
    memset(eeprom, 0xFF, sizeof eeprom); /* a new chip's EEPROM is erased to 0xFF */
    if (argc > 1) unhex(argv[1], eeprom, sizeof eeprom);
    in_reg[PIN_DOUT] = 1;
    setup();
    while (fgets(line, sizeof line, stdin)) {
        char *arg = strchr(line, ' ');
        if (arg) arg++;
        if (!strncmp(line, "RUN ", 4)) {
            uint64_t until = strtoull(arg, NULL, 10);
            while (now_us < until) {
                hx711_tick();
                loop();
                now_us += LOOP_US;
            }
            printf("TX ");
            for (size_t i = 0; i < tx_len; i++) printf("%02x", tx[i]);
            printf("\n");
            tx_len = 0;
        } else if (!strncmp(line, "RX ", 3)) {
            if (rx_tail + strlen(arg) / 2 > sizeof rx) rx_head = rx_tail = 0;
            rx_tail += unhex(arg, rx + rx_tail, sizeof rx - rx_tail);
        } else if (!strncmp(line, "VAL ", 4)) {
            adc_value = (int32_t)strtol(arg, NULL, 10) & 0xFFFFFF;
        } else if (!strncmp(line, "ADC ", 4)) {
            adc_on = !strncmp(arg, "on", 2);
        } else if (!strncmp(line, "BTN ", 4)) {
            button_pressed = arg[0] == '1';
        } else if (!strncmp(line, "CBTN ", 5)) {
            client_pressed = arg[0] == '1';
        } else if (!strncmp(line, "EVAS ", 5)) {
            evas_counts = atoi(arg);
        } else if (!strncmp(line, "PIN ", 4)) {
            int pin = atoi(arg);
            printf("PIN %d %d\n", pin, out_reg[pin]);
        } else if (!strncmp(line, "EE", 2)) {
            printf("EE ");
            for (size_t i = 0; i < 64; i++) printf("%02x", eeprom[i]);
            printf("\n");
        }
        fflush(stdout);
    }
    return 0;
}
