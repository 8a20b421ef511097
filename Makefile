# Tollgate: `make run` serves the API and web app through nginx; `make check`
# runs every test. Both install what a Debian 12 machine lacks first.

PREFIX ?= /usr/local
DESTDIR ?=
PORT ?= 8080

CC ?= cc
CFLAGS ?= -O2 -g
WARN = -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CPPFLAGS += -D_GNU_SOURCE -Isrc -I/usr/include/postgresql
LIBS = -lfcgi -ljson-c -lsqlite3 -lpq -ljwt -largon2 -lcurl -lcrypto -lz -lpthread

ifeq ($(BENCH_NO_RATELIMIT),1)
CPPFLAGS += -DTG_BENCH_NO_RATELIMIT
BUILD = build/nolimit
endif

ifeq ($(SANITIZE),1)
CC = clang
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
BUILD = build/sanitize
else ifeq ($(FUZZ),1)
# The fuzz harnesses (fuzz/fuzz_*.c): libFuzzer with ASan + UBSan.
CC = clang
CFLAGS = -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
BUILD = build/fuzz
else ifneq ($(BENCH_NO_RATELIMIT),1)
BUILD = build
endif

SRC = $(wildcard src/*.c)
OBJ = $(patsubst src/%.c,$(BUILD)/%.o,$(SRC)) $(BUILD)/migrations.o $(BUILD)/openapi_doc.o
LIBOBJ = $(filter-out $(BUILD)/main.o,$(OBJ))
# The core layer: the files that include neither mw.h nor api.h (see
# tests/layers.py). Unit tests of core modules link only the core, so a
# core file that calls up fails to link them.
CORE_SRC = $(shell grep -L -e '"mw.h"' -e '"api.h"' src/*.c)
CORE_OBJ = $(patsubst src/%.c,$(BUILD)/%.o,$(CORE_SRC)) $(BUILD)/migrations.o
CORE_UNIT = $(patsubst %,$(BUILD)/tests/test_%,body client config csv db http json schema util)
SQL = $(sort $(wildcard sql/*.sql))
PG_SQL = $(sort $(wildcard sql/pg/*.sql))
UNIT = $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS = $(patsubst fuzz/%.c,$(BUILD)/%,$(wildcard fuzz/fuzz_*.c))

all: $(BUILD)/tollgate

# What `make run` needs (deps) and what `make check` needs besides (check-deps).
deps:
	@sh deploy/deps.sh

check-deps:
	@sh deploy/deps.sh check

$(BUILD)/%.o: src/%.c $(wildcard src/*.h) | $(BUILD)
	$(CC) -std=c11 $(CPPFLAGS) $(CFLAGS) $(WARN) -c -o $@ $<

$(BUILD)/migrations.o: src/migrations.S $(SQL) $(PG_SQL) | $(BUILD)
	$(CC) -c -o $@ src/migrations.S

$(BUILD)/openapi_doc.o: src/openapi_doc.S docs/openapi.json | $(BUILD)
	$(CC) -c -o $@ src/openapi_doc.S

$(BUILD)/tollgate: $(OBJ)
	$(CC) $(CFLAGS) -o $@ $(OBJ) $(LIBS)

$(BUILD)/libtollgate.a: $(LIBOBJ)
	rm -f $@ && ar rcs $@ $(LIBOBJ)

$(BUILD)/libtollgate-core.a: $(CORE_OBJ)
	rm -f $@ && ar rcs $@ $(CORE_OBJ)

$(CORE_UNIT): $(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h tests/unit/feed.h $(BUILD)/libtollgate-core.a | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) -std=c11 $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $< $(BUILD)/libtollgate-core.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h tests/unit/feed.h $(BUILD)/libtollgate.a | $(BUILD)
	@mkdir -p $(BUILD)/tests
	$(CC) -std=c11 $(CPPFLAGS) $(CFLAGS) $(WARN) -Wno-missing-prototypes -o $@ $< $(BUILD)/libtollgate.a $(LIBS)

$(BUILD)/fuzz_%: fuzz/fuzz_%.c tests/unit/feed.h $(BUILD)/libtollgate.a | $(BUILD)
	$(CC) -std=c11 $(CPPFLAGS) $(CFLAGS) -fsanitize=fuzzer $(WARN) -o $@ $< $(BUILD)/libtollgate.a $(LIBS)

$(BUILD):
	mkdir -p $(BUILD)

# exec: Ctrl-C reaches run.sh, which stops everything and exits 0, with no
# shell in between to die of the signal (make would report it).
run: deps
	@$(MAKE) --no-print-directory all
	@PORT=$(PORT) exec sh deploy/run.sh

# `make run` on a throwaway PostgreSQL 15 (deploy/pg-local.sh, data in
# var/pg/), stopped again on the way out. The shell waits out Ctrl-C (a
# no-op trap, so run.sh still gets it) and then stops the cluster.
run-postgres: deps
	@sh deploy/deps.sh postgres
	@$(MAKE) --no-print-directory all
	@url=$$(sh deploy/pg-local.sh start var/pg) || exit 1; \
	trap 'sh deploy/pg-local.sh stop var/pg' EXIT; trap : INT TERM; \
	PORT=$(PORT) TOLLGATE_DB="$$url" sh deploy/run.sh

# Three hosts on one throwaway PostgreSQL behind a load-balancing nginx
# (deploy/cluster.sh: the balancer on PORT, the hosts on PORT+1..PORT+3,
# everything under var/cluster/), until Ctrl-C. exec: as for run.
cluster: deps
	@sh deploy/deps.sh postgres
	@$(MAKE) --no-print-directory all
	@PORT=$(PORT) exec sh deploy/cluster.sh

check: check-deps
	@$(MAKE) --no-print-directory all $(UNIT)
	@BUILD=$(BUILD) sh tests/run.sh

unit: all $(UNIT)

# Tollgate against its physical floor, side by side (bench/run.sh; needs wrk).
# STORE=postgresql runs it on a throwaway PostgreSQL 15 (deploy/pg-local.sh).
STORE ?= sqlite
bench:
	@sh deploy/deps.sh bench$(if $(filter postgresql,$(STORE)), postgres)
	@STORE=$(STORE) sh bench/run.sh

# 1, 2 and 3 hosts on one PostgreSQL through a balancing nginx
# (bench/cluster.sh on deploy/cluster.sh; needs wrk).
bench-cluster:
	@sh deploy/deps.sh bench postgres
	@sh bench/cluster.sh

# Every fuzz harness for FUZZ_SECONDS each (default 600; make check runs
# each for 10 s): FUZZ_SECONDS=3600 make fuzz. New inputs go to
# build/fuzz/corpus, crashes to build/fuzz/artifacts (fuzz/run.sh).
fuzz:
	@FUZZ_SECONDS=$${FUZZ_SECONDS:-600} sh fuzz/run.sh

fuzzers:
	@$(MAKE) --no-print-directory FUZZ=1 $(patsubst fuzz/%.c,build/fuzz/%,$(wildcard fuzz/fuzz_*.c))

# Every unit test under valgrind memcheck: no leak, no error (.ci/run).
valgrind: unit
	@sh tests/valgrind.sh $(UNIT)

# docs/openapi.json from the hand-written docs/openapi.yaml (needs node and
# `npm ci`); the JSON is committed, so building the server needs no node.
openapi:
	@[ -d node_modules/yaml ] || npm ci --no-audit --no-fund --loglevel=error
	node docs/openapi-json.mjs

format:
	clang-format -i src/*.c src/*.h tests/unit/*.c tests/unit/*.h fuzz/*.c bench/*.c

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tollgate/sql \
	    $(DESTDIR)$(PREFIX)/share/tollgate/www $(DESTDIR)$(PREFIX)/share/tollgate/deploy/nginx
	install -m 0755 $(BUILD)/tollgate $(DESTDIR)$(PREFIX)/bin/tollgate
	install -m 0644 $(SQL) $(DESTDIR)$(PREFIX)/share/tollgate/sql/
	cp -R www/. $(DESTDIR)$(PREFIX)/share/tollgate/www/
	PREFIX='$(PREFIX)' DESTDIR='$(DESTDIR)' sh deploy/install.sh

clean:
	rm -rf build

.PHONY: all deps check-deps run run-postgres cluster check unit format install clean openapi bench bench-cluster fuzz fuzzers valgrind
