/* Host stand-in for avr-libc's EEPROM access (1 KB, like the ATmega328P). */
#pragma once
#include <stddef.h>
void eeprom_read_block(void *dst, const void *src, size_t n);
void eeprom_update_block(const void *src, void *dst, size_t n);
