# sluice: non-recursive build.
#   make            build/sluiced, build/sluicectl
#   make SAN=1      the same with ASan+UBSan, in build-san/
#   make BPF=0      without the eBPF sockmap relay (no clang, no libbpf)
#   make unit       the unit test binaries, in build/tests/ (or build-san/)
#   make bench-route  routing lookup speed and memory on the real geodata
#   make bench      sluiced against haproxy, nginx stream, trojan-gfw and
#                   v2ray on loopback: bench/REPORT.md (ROUNDS=3, BENCH_SMOKE=1)
#   make test       install test packages, build, run every suite
#   make run        install packages, build, start the demo in the foreground
#   make install    DESTDIR, PREFIX (see the install target)
#   make uninstall  the same variables

PREFIX  ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# systemd and sysctl(8) (procps and systemd-sysctl) both search
# /usr/local/lib as well as /usr/lib.
UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCTLDIR ?= $(PREFIX)/lib/sysctl.d

CC      ?= cc
PKGS    := libconfig json-c libcares openssl libpcre2-8 libprotobuf-c sqlite3
CFLAGS  ?= -O2 -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow \
           -Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -I. \
           -I$(B)/gen $(shell pkg-config --cflags $(PKGS))
LDLIBS  += $(shell pkg-config --libs $(PKGS)) -lm

ifeq ($(SAN),1)
B       := build-san
CFLAGS  += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
           -fno-sanitize-recover=undefined
LDFLAGS += -fsanitize=address,undefined
else
B       := build
endif

# The eBPF sockmap relay (shm/sockmap.c): built when clang and libbpf
# are found, unless BPF=0.  The object is compiled here and embedded in the
# binary (.incbin), never committed.
BPF     ?= $(shell command -v clang > /dev/null 2>&1 && \
           pkg-config --exists libbpf 2> /dev/null && echo 1 || echo 0)
ifeq ($(BPF),1)
BPF_OBJ := $(B)/bpf/relay.bpf.o
CFLAGS  += -DSL_BPF -DSL_BPF_OBJ='"$(BPF_OBJ)"' \
           $(shell pkg-config --cflags libbpf)
LDLIBS  += $(shell pkg-config --libs libbpf)
endif

# protobuf-c code generated from *.proto into $(B)/gen (on the include path).
PROTO   := $(wildcard master/*.proto)
GEN_SRC := $(PROTO:%.proto=$(B)/gen/%.pb-c.c)
GEN_HDR := $(PROTO:%.proto=$(B)/gen/%.pb-c.h)
LIB_SRC := $(filter-out master/main.c master/sluicectl.c, \
           $(wildcard shm/*.c master/*.c worker/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o) $(GEN_SRC:$(B)/gen/%.c=$(B)/obj/gen/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
# Shared by every unit test (tests/unit/helpers.h).
UNIT_HLP := $(B)/obj/tests/unit/helpers.o

.DELETE_ON_ERROR:
.PHONY: all unit bench-route bench test run install uninstall clean lint \
	deps deps-test

all: $(B)/sluiced $(B)/sluicectl

# Flags live here: a changed Makefile rebuilds everything.
$(B)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# A pattern rule with two targets runs protoc-c once for both.
$(B)/gen/%.pb-c.c $(B)/gen/%.pb-c.h: %.proto
	@mkdir -p $(B)/gen
	protoc-c --c_out=$(B)/gen $<

$(B)/obj/gen/%.o: $(B)/gen/%.c Makefile
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

# Generated sources are kept: they are no intermediate files to delete.
.SECONDARY: $(GEN_SRC) $(GEN_HDR)

# No dependency file exists before the first build: every object waits for
# the generated headers.
$(LIB_OBJ) $(B)/obj/master/main.o $(B)/obj/master/sluicectl.o \
    $(UNIT_HLP): | $(GEN_HDR)

ifeq ($(BPF),1)
# No vmlinux.h: <linux/bpf.h> and <bpf/bpf_helpers.h>, with the
# multiarch directory for <asm/types.h>.
$(BPF_OBJ): worker/bpf/relay.bpf.c Makefile
	@mkdir -p $(dir $@)
	clang -O2 -g -target bpf -Wall -Werror \
	    -I/usr/include/$(shell $(CC) -dumpmachine) -c -o $@ $<

$(B)/obj/shm/sockmap.o: $(BPF_OBJ)
endif

$(B)/libsluice.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(B)/sluiced: $(B)/obj/master/main.o $(B)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/sluicectl: $(B)/obj/master/sluicectl.o $(B)/libsluice.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c tests/unit/helpers.h $(UNIT_HLP) $(B)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(UNIT_HLP) $(B)/libsluice.a \
	    $(LDLIBS) -lcmocka

unit: $(UNIT_BIN)

$(B)/bench/%: tests/bench/%.c $(B)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/libsluice.a $(LDLIBS)

# A fuzz target with tests/fuzz/replay.c for main(): scripts/run-tests.sh
# replays the target's corpus with it, no libFuzzer needed.
$(B)/fuzz/%: tests/fuzz/%.c tests/fuzz/replay.c $(B)/libsluice.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ tests/fuzz/replay.c $< \
	    $(B)/libsluice.a $(LDLIBS)

# A benchmark, not a test: lookup speed, image size, compile time, memory.
bench-route: all $(B)/bench/bench_route
	sh scripts/bench/route.sh

# A benchmark, not a test: the peers side by side (scripts/bench/bench.py).
bench: all
	sh scripts/install-deps.sh --bench
	/usr/bin/python3 scripts/bench/bench.py

deps:
	sh scripts/install-deps.sh

deps-test:
	sh scripts/install-deps.sh --test

# Every suite, plain and under ASan+UBSan; the last line is "N passed, N failed".
test: deps-test
	$(MAKE) all unit
	$(MAKE) SAN=1 all unit
	sh scripts/run-tests.sh

run: deps all
	sh scripts/demo.sh

# FHS paths (DESIGN.md §1).  Paths in the init script, the unit and the
# defaults file follow SBINDIR and SYSCONFDIR.  The configuration and
# /etc/default/sluiced are installed only when absent.  Logs and state are
# the master's (root); workers never write there.  With an empty DESTDIR
# this is a real install: it also creates the system user and group
# "sluice" (sluice.user in the installed configuration) when missing,
# sets the log directory's group to adm, applies the sysctl setting and
# tells systemd about the unit.  Nothing is enabled or started.
SUBST = sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	    -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
ETC   = $(DESTDIR)$(SYSCONFDIR)

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
	    $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(ETC)/sluice $(ETC)/init.d $(ETC)/default $(ETC)/logrotate.d \
	    $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSCTLDIR)
	install -d -m 750 $(DESTDIR)/var/log/sluice $(DESTDIR)/var/lib/sluice
	install -m 755 $(B)/sluiced $(DESTDIR)$(SBINDIR)/sluiced
	install -m 755 $(B)/sluicectl $(DESTDIR)$(BINDIR)/sluicectl
	install -m 644 man/sluiced.8 man/sluicectl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 644 man/sluice.conf.5 $(DESTDIR)$(MANDIR)/man5/
	$(SUBST) scripts/sluiced.init > $(ETC)/init.d/sluiced
	chmod 755 $(ETC)/init.d/sluiced
	$(SUBST) scripts/sluiced.service > $(DESTDIR)$(UNITDIR)/sluiced.service
	chmod 644 $(DESTDIR)$(UNITDIR)/sluiced.service
	install -m 644 scripts/sluiced.logrotate $(ETC)/logrotate.d/sluiced
	install -m 644 scripts/60-sluice.sysctl.conf \
	    $(DESTDIR)$(SYSCTLDIR)/60-sluice.conf
	[ -e $(ETC)/default/sluiced ] || { \
	    $(SUBST) scripts/sluiced.default > $(ETC)/default/sluiced && \
	    chmod 644 $(ETC)/default/sluiced; }
	[ -e $(ETC)/sluice/sluice.conf ] || \
	    install -m 640 etc/sluice.conf $(ETC)/sluice/sluice.conf
	@if [ -z "$(DESTDIR)" ]; then \
	    if ! getent group sluice > /dev/null; then \
	        echo "install: adding system group sluice"; \
	        groupadd --system sluice || exit 1; \
	    fi; \
	    if ! getent passwd sluice > /dev/null; then \
	        echo "install: adding system user sluice"; \
	        useradd --system --gid sluice --no-create-home \
	            --home-dir /nonexistent --shell /usr/sbin/nologin \
	            --comment "sluice workers" sluice || exit 1; \
	    fi; \
	    ! getent group adm > /dev/null || chgrp adm /var/log/sluice; \
	    sysctl -q -p $(SYSCTLDIR)/60-sluice.conf || \
	        echo "install: could not apply $(SYSCTLDIR)/60-sluice.conf"; \
	    [ ! -d /run/systemd/system ] || systemctl daemon-reload; \
	fi

# Leaves the configuration, /etc/default/sluiced, logs, state and the
# sluice user alone.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/sluiced $(DESTDIR)$(BINDIR)/sluicectl \
	    $(DESTDIR)$(MANDIR)/man8/sluiced.8 \
	    $(DESTDIR)$(MANDIR)/man8/sluicectl.8 \
	    $(DESTDIR)$(MANDIR)/man5/sluice.conf.5 \
	    $(ETC)/init.d/sluiced $(ETC)/logrotate.d/sluiced \
	    $(DESTDIR)$(UNITDIR)/sluiced.service \
	    $(DESTDIR)$(SYSCTLDIR)/60-sluice.conf

lint:
	mandoc -Tlint -Wwarning man/*.[58]

clean:
	rm -rf build build-san

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
