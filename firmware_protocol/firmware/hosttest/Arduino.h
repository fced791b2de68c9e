/* Host stand-in for the Arduino core, so that firmware.ino runs on a PC under test.
 * Not a mock of the protocol: only the board (pins, clock, serial port, EEPROM) and an
 * HX711 are emulated, in board.cpp; the sketch's own code runs unchanged. */
#pragma once
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define HIGH 1
#define LOW 0
#define INPUT 0
#define OUTPUT 1
#define INPUT_PULLUP 2
#define LED_BUILTIN 13
#define A0 14
#define A1 15

extern uint8_t SREG;
inline void cli(void) {}
void pinMode(uint8_t pin, uint8_t mode);
void digitalWrite(uint8_t pin, uint8_t level);
int digitalRead(uint8_t pin);
unsigned long micros(void);
unsigned long millis(void);
void delayMicroseconds(unsigned int us);
int analogRead(uint8_t pin);
void randomSeed(unsigned long seed);
long random(long howbig);
void tone(uint8_t pin, unsigned int hz);
void noTone(uint8_t pin);
uint8_t digitalPinToPort(uint8_t pin);
uint8_t digitalPinToBitMask(uint8_t pin);
volatile uint8_t *portOutputRegister(uint8_t port);
volatile uint8_t *portInputRegister(uint8_t port);
#define constrain(x, lo, hi) ((x) < (lo) ? (lo) : ((x) > (hi) ? (hi) : (x)))

class HardwareSerial {
  public:
    void begin(unsigned long baud);
    int available(void);
    int read(void);
    size_t write(const uint8_t *buf, size_t n);
};
extern HardwareSerial Serial;

void setup(void);
void loop(void);
