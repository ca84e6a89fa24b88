/* clock: the monotonic clock every process uses for deadlines. */
#ifndef SL_SHM_CLOCK_H
#define SL_SHM_CLOCK_H

#include <stdint.h>

uint64_t sl_clock_ms(void);
uint64_t sl_clock_us(void);

#endif
