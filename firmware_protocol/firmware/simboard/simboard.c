/*
 * simboard: the real firmware ELF (built by `make firmware`) on a simulated ATmega328P
 * (simavr) wired like the README's board: an HX711 on D3 (DOUT) / D4 (SCK) / D5 (RATE),
 * the mark button on D2 and the client button on D6 (both with contact bounce), the eVAS
 * potentiometer on A1, the buzzer on D8 and the LED on D13.
 * UART0 is bridged to a pseudo-terminal, so any host (`pressure-logger record --port
 * /dev/pts/N`) talks to the firmware as it would to a USB board.
 *
 *   simboard FIRMWARE.elf SCRIPT LOG          prints the pty path on its first line
 *
 * The simulation runs while a host has the port open, and pauses while nobody has it open.
 * The firmware idles between its passes (sleep mode idle): simavr skips that time, and
 * board time runs PACE times as fast as real time (slower only where the host CPU cannot
 * keep up). Opening the port resets the
 * board, as the DTR pulse of a USB Uno/Nano does; the EEPROM survives, the HX711 keeps
 * converting. Each opening plays the next connection of SCRIPT from its reset:
 *
 *   connection              the next opening's script starts here
 *   load T_S COUNTS         HX711 input (raw counts) at T_S, linear between knots
 *   noise COUNTS            uniform noise ±COUNTS on every conversion (deterministic)
 *   press T_S HOLD_S        the mark button: pressed at T_S (with bounce), released later
 *   client T_S HOLD_S       the client button, the same way
 *   evas T_S VOLTS          the eVAS wiper's voltage (0-5 V) at T_S, linear between knots
 *   stall T_S SECONDS       the HX711 stops converting for that long (DOUT stays high)
 *
 * LOG gets one line per observation, times in µs since the connection's reset (what the
 * firmware's micros() counts):
 *
 *   open K                  connection K (1, 2, …) opened the port: board reset
 *   close K T_US            the host closed it
 *   conv K N T_US VALUE PULSES   the N-th conversion (0, 1, …) became ready at T_US; the
 *                           firmware clocked PULSES SCK pulses for it (0: never read)
 *   press K T_US            first falling edge of a mark button press (the press itself)
 *   client K T_US           first falling edge of a client button press
 *   adc K T_US MV           the firmware took an A1 conversion: the wiper was at MV
 *   pin K NAME T_US LEVEL   buzzer, led or rate changed
 *   sck_long K T_US HIGH_US SCK stayed high > 60 µs: a real HX711 would power down
 *
 * The HX711 model: a conversion every 12.5 ms (RATE high, 80 samples/s) or 100 ms (RATE
 * low, 10 samples/s); DOUT goes low when one is ready; each rising SCK edge shifts out the
 * next bit, MSB first, 24-bit two's complement; pulse 25 ends the read and pulls DOUT high
 * (25 pulses: channel A gain 128 next; 26: B 32; 27: A 64). An unread conversion is
 * replaced by the next one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <simavr/avr_adc.h>
#include <simavr/avr_ioport.h>
#include <simavr/avr_uart.h>
#include <simavr/sim_avr.h>
#include <simavr/sim_elf.h>
#include <simavr/sim_io.h>
#include <simavr/sim_irq.h>
#include <simavr/sim_time.h>

#define F_CPU_HZ 16000000UL
#define MAX_KNOTS 4096
#define MAX_PRESSES 64
#define MAX_CONNECTIONS 16
#define POLL_EVERY_CYCLES 16000 /* 1 ms of board time between looks at the pty */
#define PACE 4                  /* board seconds per real second, at most */
#define UCSR0B_ADDR 0xC1 /* ATmega328P: USART0 control register B, */
#define RXEN0_BIT 4      /* its receiver-enable bit */
#define INT24_MIN (-8388608L)
#define INT24_MAX 8388607L

typedef struct {
    double t_s;
    double counts;
} knot_t;

typedef struct {
    knot_t knots[MAX_KNOTS];
    int n_knots;
    double noise;
    double press_t_s[2][MAX_PRESSES], press_hold_s[2][MAX_PRESSES]; /* [mark, client] */
    int n_presses[2];
    knot_t evas_knots[MAX_KNOTS]; /* counts: volts */
    int n_evas_knots;
    double stall_t_s, stall_s;
} script_t;

static script_t scripts[MAX_CONNECTIONS];
static int n_scripts;

static avr_t *avr;
static FILE *log_file;
static int master_fd = -1;
static int connection; /* 0: never opened yet */
static const script_t *script;
static avr_cycle_count_t reset_cycle;
static double reset_real_s; /* CLOCK_MONOTONIC at the reset */
static volatile sig_atomic_t stop_requested;

/* ---- HX711 ---- */
static avr_irq_t *dout_irq;
static int sck_level, rate_level;
static avr_cycle_count_t sck_rise_cycle;
static long conv_n;          /* conversions since the connection's reset */
static int conv_ready;       /* DOUT low, data waiting */
static int32_t conv_value;   /* the conversion being read / waiting */
static uint64_t conv_t_us;
static int conv_pulses;      /* SCK pulses for the current conversion */
static int conv_logged = 1;  /* the current conversion's line was written */
static uint32_t noise_state;

/* ---- buttons: 0 mark (D2), 1 client (D6), both pulled up, pressed to ground ---- */
typedef struct {
    double t_s;
    int level;
    int first_press; /* 1: this is a press's first falling edge */
} pin_event_t;
typedef struct {
    int bit; /* on port D */
    const char *log_word;
    avr_irq_t *irq;
    pin_event_t events[MAX_PRESSES * 12];
    int n_events, next_event;
} button_t;
static button_t buttons[2] = {{.bit = 2, .log_word = "press"}, {.bit = 6, .log_word = "client"}};
static uint8_t port_d_external; /* the buttons' levels as port D's external values */

/* ---- eVAS ---- */
static avr_irq_t *evas_irq;

/* ---- UART ---- */
static avr_irq_t *uart_in_irq;
static int uart_xon = 1;
static uint8_t rx_pending[4096];
static size_t rx_len, rx_pos;

static uint64_t board_us(void)
{
    return (avr->cycle - reset_cycle) / (F_CPU_HZ / 1000000UL);
}

static double board_s(void) { return (double)(avr->cycle - reset_cycle) / (double)F_CPU_HZ; }

static double real_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* simavr's sleep callback: the firmware sleeps until the next event, HOW_LONG cycles away.
 * Skipped at once, unless board time would get more than PACE times ahead of real time
 * (by over a millisecond: shorter sleeps are not worth a system call). */
static void paced_sleep(avr_t *a, avr_cycle_count_t how_long)
{
    double ahead_s = (double)(a->cycle + how_long - reset_cycle) / (double)F_CPU_HZ / PACE -
                     (real_s() - reset_real_s);
    if (ahead_s > 0.001) {
        struct timespec wait = {0, (long)(ahead_s * 1e9)};
        if (ahead_s >= 1.0) wait = (struct timespec){(time_t)ahead_s, 0};
        nanosleep(&wait, NULL);
    }
}

static void die(const char *what)
{
    fprintf(stderr, "simboard: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* ------------------------------------------------------------------ the script */

static void read_script(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) die(path);
    char line[256];
    int lineno = 0;
    script_t *s = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char word[32];
        double a, b;
        if (sscanf(line, "%31s", word) != 1 || word[0] == '#') continue;
        if (!strcmp(word, "connection")) {
            if (n_scripts == MAX_CONNECTIONS) goto bad;
            s = &scripts[n_scripts++];
            memset(s, 0, sizeof *s);
            continue;
        }
        if (!s) goto bad;
        if (!strcmp(word, "load") && sscanf(line, "%*s %lf %lf", &a, &b) == 2) {
            if (s->n_knots == MAX_KNOTS) goto bad;
            s->knots[s->n_knots].t_s = a;
            s->knots[s->n_knots++].counts = b;
        } else if (!strcmp(word, "stall") && sscanf(line, "%*s %lf %lf", &a, &b) == 2) {
            s->stall_t_s = a;
            s->stall_s = b;
        } else if (!strcmp(word, "noise") && sscanf(line, "%*s %lf", &a) == 1) {
            s->noise = a;
        } else if ((!strcmp(word, "press") || !strcmp(word, "client")) &&
                   sscanf(line, "%*s %lf %lf", &a, &b) == 2) {
            int k = !strcmp(word, "client");
            if (s->n_presses[k] == MAX_PRESSES) goto bad;
            s->press_t_s[k][s->n_presses[k]] = a;
            s->press_hold_s[k][s->n_presses[k]++] = b;
        } else if (!strcmp(word, "evas") && sscanf(line, "%*s %lf %lf", &a, &b) == 2) {
            if (s->n_evas_knots == MAX_KNOTS) goto bad;
            s->evas_knots[s->n_evas_knots].t_s = a;
            s->evas_knots[s->n_evas_knots++].counts = b;
        } else {
            goto bad;
        }
    }
    fclose(f);
    if (!n_scripts) {
        fprintf(stderr, "simboard: %s: no connection\n", path);
        exit(2);
    }
    return;
bad:
    fprintf(stderr, "simboard: %s:%d: cannot read '%s'\n", path, lineno, line);
    exit(2);
}

/* The value at t_s of a curve given by knots, linear between them. */
static double interpolate(const knot_t *k, int n, double t_s)
{
    if (n == 0) return 0.0;
    if (t_s <= k[0].t_s) return k[0].counts;
    for (int i = 1; i < n; i++) {
        if (t_s <= k[i].t_s) {
            double span = k[i].t_s - k[i - 1].t_s;
            double x = span > 0 ? (t_s - k[i - 1].t_s) / span : 1.0;
            return k[i - 1].counts + x * (k[i].counts - k[i - 1].counts);
        }
    }
    return k[n - 1].counts;
}

static double noise_counts(void)
{
    noise_state = noise_state * 1664525u + 1013904223u; /* LCG: the same run every time */
    return script->noise * (2.0 * (noise_state >> 8) / (double)(1u << 24) - 1.0);
}

/* ------------------------------------------------------------------------ HX711 */

static void log_conversion(void)
{
    if (conv_logged) return;
    fprintf(log_file, "conv %d %ld %llu %ld %d\n", connection, conv_n - 1,
            (unsigned long long)conv_t_us, (long)conv_value, conv_pulses);
    conv_logged = 1;
}

static avr_cycle_count_t hx711_convert(avr_t *a, avr_cycle_count_t when, void *param)
{
    (void)a;
    (void)param;
    log_conversion(); /* the previous one: read or not, its fate is known now */
    uint64_t period_us = rate_level ? 12500 : 100000;
    double now_s = board_s();
    if (script->stall_s > 0 && now_s >= script->stall_t_s &&
        now_s < script->stall_t_s + script->stall_s)
        return when + period_us * (F_CPU_HZ / 1000000UL); /* stalled: no conversion */
    double v = interpolate(script->knots, script->n_knots, board_s()) + noise_counts();
    if (v > INT24_MAX) v = INT24_MAX;
    if (v < INT24_MIN) v = INT24_MIN;
    conv_value = (int32_t)(v < 0 ? v - 0.5 : v + 0.5);
    conv_t_us = board_us();
    conv_pulses = 0;
    conv_ready = 1;
    conv_logged = 0;
    conv_n++;
    avr_raise_irq(dout_irq, 0); /* data ready */
    return when + period_us * (F_CPU_HZ / 1000000UL);
}

static void sck_changed(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    int level = value ? 1 : 0;
    if (level == sck_level) return;
    sck_level = level;
    if (level) {
        sck_rise_cycle = avr->cycle;
        if (conv_logged) return; /* no conversion to read: a stray pulse */
        conv_pulses++;
        if (conv_pulses <= 24) {
            int bit = ((uint32_t)conv_value >> (24 - conv_pulses)) & 1;
            avr_raise_irq(dout_irq, bit);
        } else if (conv_pulses == 25) {
            conv_ready = 0;
            avr_raise_irq(dout_irq, 1); /* read done: DOUT high until the next conversion */
        }
    } else {
        uint64_t high_us = (avr->cycle - sck_rise_cycle) / (F_CPU_HZ / 1000000UL);
        if (high_us > 60)
            fprintf(log_file, "sck_long %d %llu %llu\n", connection,
                    (unsigned long long)board_us(), (unsigned long long)high_us);
    }
}

/* ------------------------------------------------------------- pins we observe */

static void pin_changed(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    const char *name = param;
    static int last[3] = {-1, -1, -1};
    int k = !strcmp(name, "buzzer") ? 0 : !strcmp(name, "led") ? 1 : 2;
    int level = value ? 1 : 0;
    if (k == 2) rate_level = level;
    if (level == last[k]) return;
    last[k] = level;
    if (connection) fprintf(log_file, "pin %d %s %llu %d\n", connection, name,
                            (unsigned long long)board_us(), level);
}

/* --------------------------------------------------------------------- buttons */

static void add_button_event(button_t *b, double t_s, int level, int first)
{
    pin_event_t *e = &b->events[b->n_events++];
    e->t_s = t_s;
    e->level = level;
    e->first_press = first;
}

/* A button pulls its pin to ground against the internal pull-up. simavr re-raises an input
 * pin with pull-up to 1 on every write to its PORT register (the HX711 clock shares port
 * D), so the level is set as the pin's "external" value, which such writes respect; the
 * external values are set for the whole port at once, both buttons together. */
static void drive_button(button_t *b, int level)
{
    port_d_external = (uint8_t)((port_d_external & ~(1 << b->bit)) | ((level ? 1 : 0) << b->bit));
    avr_ioport_external_t ext = {.name = 'D', .mask = (1 << buttons[0].bit) | (1 << buttons[1].bit),
                                 .value = port_d_external};
    avr_ioctl(avr, AVR_IOCTL_IOPORT_SET_EXTERNAL('D'), &ext);
    avr_raise_irq(b->irq, level);
}

static avr_cycle_count_t button_step(avr_t *a, avr_cycle_count_t when, void *param)
{
    (void)a;
    button_t *b = param;
    const pin_event_t *e = &b->events[b->next_event++];
    drive_button(b, e->level);
    if (e->first_press)
        fprintf(log_file, "%s %d %llu\n", b->log_word, connection, (unsigned long long)board_us());
    if (b->next_event == b->n_events) return 0;
    double dt = b->events[b->next_event].t_s - e->t_s;
    return when + (avr_cycle_count_t)(dt * F_CPU_HZ);
}

/* A press: the contacts bounce for 4 ms (falling first), then stay closed; the release
 * bounces too. Only the first falling edge is the press (PROTOCOL.md: "t_us is the press,
 * before debouncing"). */
static void plan_button(int k)
{
    static const double press_bounce_ms[] = {0.0, 0.4, 1.1, 2.5, 4.0};  /* 0 1 0 1 0 */
    static const double release_bounce_ms[] = {0.0, 0.5, 1.2, 2.0, 3.0}; /* 1 0 1 0 1 */
    button_t *b = &buttons[k];
    b->n_events = b->next_event = 0;
    for (int i = 0; i < script->n_presses[k]; i++) {
        double t = script->press_t_s[k][i], hold = script->press_hold_s[k][i];
        for (int j = 0; j < 5; j++)
            add_button_event(b, t + press_bounce_ms[j] * 1e-3, j & 1, j == 0);
        for (int j = 0; j < 5; j++)
            add_button_event(b, t + hold + release_bounce_ms[j] * 1e-3, !(j & 1), 0);
    }
    if (b->n_events)
        avr_cycle_timer_register(avr, (avr_cycle_count_t)(b->events[0].t_s * F_CPU_HZ),
                                 button_step, b);
}

/* ------------------------------------------------------------------------ eVAS */

/* simavr samples an ADC input when the firmware reads the result: give it the wiper's
 * voltage at that moment (only A1 has a pot; the others read 0 V). */
static void adc_triggered(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    union {
        avr_adc_mux_t mux;
        uint32_t v;
    } e = {.v = value};
    if (e.mux.kind != ADC_MUX_SINGLE || e.mux.src != 1 || !script->n_evas_knots) return;
    double volts = interpolate(script->evas_knots, script->n_evas_knots, board_s());
    uint32_t mv = (uint32_t)(volts * 1000.0 + 0.5);
    avr_raise_irq(evas_irq, mv);
    fprintf(log_file, "adc %d %llu %u\n", connection, (unsigned long long)board_us(), mv);
}

/* ------------------------------------------------------------------------- UART */

static void uart_out(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)param;
    uint8_t byte = (uint8_t)value;
    if (!connection) return;
    while (write(master_fd, &byte, 1) < 0) {
        if (errno == EIO) return; /* the host closed the port: the byte is lost, as on USB */
        if (errno != EAGAIN && errno != EINTR) die("pty write");
        struct pollfd p = {master_fd, POLLOUT, 0};
        poll(&p, 1, 10);
    }
}

static void uart_xon_changed(avr_irq_t *irq, uint32_t value, void *param)
{
    (void)irq;
    (void)value;
    uart_xon = param != NULL;
}

/* The host's bytes wait until the firmware has switched the receiver on (simavr drops what
 * comes before, as a real board's bootloader would eat it): the HELLO a host sends as it
 * opens the port is answered at boot, not at its next try 0.25 s of host time later, which
 * here runs by as seconds of board time that the connection's script has to wait for. */
static int uart_receiving(void) { return avr->data[UCSR0B_ADDR] & (1 << RXEN0_BIT); }

static void feed_uart(void)
{
    while (uart_xon && rx_pos < rx_len && uart_receiving())
        avr_raise_irq(uart_in_irq, rx_pending[rx_pos++]);
    if (rx_pos == rx_len) rx_pos = rx_len = 0;
}

/* ------------------------------------------------------------------- the port */

/* Is a host holding the pty open? The master sees POLLHUP while no one has the slave. */
static int port_open(void)
{
    struct pollfd p = {master_fd, POLLIN, 0};
    if (poll(&p, 1, 0) < 0) die("poll");
    return !(p.revents & POLLHUP);
}

static void read_host(void)
{
    if (rx_len == sizeof rx_pending) return;
    ssize_t n = read(master_fd, rx_pending + rx_len, sizeof rx_pending - rx_len);
    if (n > 0) rx_len += (size_t)n;
}

static void board_reset(void)
{
    avr_reset(avr);
    reset_cycle = avr->cycle;
    reset_real_s = real_s();
    connection++;
    script = &scripts[(connection - 1) < n_scripts ? connection - 1 : n_scripts - 1];
    noise_state = 12345u + (uint32_t)connection;
    conv_n = 0;
    conv_logged = 1;
    conv_ready = 0;
    sck_level = 0;
    rx_len = rx_pos = 0;
    fprintf(log_file, "open %d\n", connection);
    /* avr_reset() cleared the PIN registers but not the pins' last IRQ values, and an IRQ
     * raised to the value it already has does nothing: go through the other level so that
     * the registers hold DOUT high (no data yet) and the button released. */
    avr_raise_irq(dout_irq, 0);
    avr_raise_irq(dout_irq, 1);
    for (int k = 0; k < 2; k++) {
        drive_button(&buttons[k], 0);
        drive_button(&buttons[k], 1);
    }
    /* avr_reset() cleared every cycle timer: the HX711 and the buttons start again */
    avr_cycle_timer_register(avr, 12500 * (F_CPU_HZ / 1000000UL), hx711_convert, NULL);
    plan_button(0);
    plan_button(1);
}

/* simavr's own messages go to stderr, errors only: stdout carries the pty path. */
static void quiet_logger(avr_t *a, const int level, const char *format, va_list ap)
{
    (void)a;
    if (level == LOG_ERROR) vfprintf(stderr, format, ap);
}

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: simboard FIRMWARE.elf SCRIPT LOG\n");
        return 2;
    }
    read_script(argv[2]);
    log_file = fopen(argv[3], "w");
    if (!log_file) die(argv[3]);
    setvbuf(log_file, NULL, _IOLBF, 0);

    avr_global_logger_set(quiet_logger);
    elf_firmware_t fw;
    memset(&fw, 0, sizeof fw);
    if (elf_read_firmware(argv[1], &fw) != 0) {
        fprintf(stderr, "simboard: %s: not a readable AVR ELF\n", argv[1]);
        return 2;
    }
    strcpy(fw.mmcu, "atmega328p");
    fw.frequency = F_CPU_HZ;
    avr = avr_make_mcu_by_name(fw.mmcu);
    if (!avr) {
        fprintf(stderr, "simboard: simavr has no atmega328p\n");
        return 1;
    }
    avr_init(avr);
    avr->log = 0;
    avr->sleep = paced_sleep;
    fw.avcc = 5000; /* the ADC's reference (AVcc, as on the Uno): 5 V */
    avr_load_firmware(avr, &fw);
    uint32_t uart_flags = 0; /* no console copy, no real-time sleep while polling */
    avr_ioctl(avr, AVR_IOCTL_UART_SET_FLAGS('0'), &uart_flags);

    dout_irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 3);
    for (int k = 0; k < 2; k++)
        buttons[k].irq = avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), buttons[k].bit);
    evas_irq = avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_ADC1);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_ADC_GETIRQ, ADC_IRQ_OUT_TRIGGER),
                            adc_triggered, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 4), sck_changed,
                            NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('D'), 5), pin_changed,
                            "rate");
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 0), pin_changed,
                            "buzzer");
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_IOPORT_GETIRQ('B'), 5), pin_changed,
                            "led");
    uart_in_irq = avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_INPUT);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUTPUT),
                            uart_out, NULL);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XON),
                            uart_xon_changed, (void *)1);
    avr_irq_register_notify(avr_io_getirq(avr, AVR_IOCTL_UART_GETIRQ('0'), UART_IRQ_OUT_XOFF),
                            uart_xon_changed, NULL);

    int slave_fd;
    char name[128];
    struct termios raw;
    if (openpty(&master_fd, &slave_fd, name, NULL, NULL) < 0) die("openpty");
    tcgetattr(slave_fd, &raw);
    cfmakeraw(&raw); /* no echo: the firmware's bytes must not come back to it */
    tcsetattr(slave_fd, TCSANOW, &raw);
    close(slave_fd); /* from now on POLLHUP on the master means "no host" */
    fcntl(master_fd, F_SETFL, fcntl(master_fd, F_GETFL) | O_NONBLOCK);
    printf("%s\n", name);
    fflush(stdout);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);

    int open_now = 0;
    avr_cycle_count_t next_poll = 0;
    while (!stop_requested) {
        if (!open_now) { /* paused: nobody is listening */
            struct timespec wait = {0, 2000000};
            nanosleep(&wait, NULL);
            if (port_open()) {
                open_now = 1;
                board_reset();
                next_poll = avr->cycle + POLL_EVERY_CYCLES;
            }
            continue;
        }
        int state = avr_run(avr);
        if (state == cpu_Done || state == cpu_Crashed) {
            fprintf(stderr, "simboard: the firmware %s at %llu us\n",
                    state == cpu_Crashed ? "crashed" : "stopped", (unsigned long long)board_us());
            return 1;
        }
        if (avr->cycle >= next_poll) {
            next_poll = avr->cycle + POLL_EVERY_CYCLES;
            if (!port_open()) {
                open_now = 0;
                log_conversion();
                fprintf(log_file, "close %d %llu\n", connection, (unsigned long long)board_us());
                continue;
            }
            read_host();
            feed_uart();
        } else if (rx_pos < rx_len && uart_xon) {
            feed_uart();
        }
    }
    log_conversion();
    fprintf(log_file, "exit %d %llu\n", connection, (unsigned long long)board_us());
    return 0;
}
