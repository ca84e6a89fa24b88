/* clock: see clock.h. */
#include <time.h>

#include "shm/clock.h"

uint64_t
sl_clock_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

uint64_t
sl_clock_ms(void)
{
	return sl_clock_us() / 1000;
}
