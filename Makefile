# Makefile: build the example package tree, bundle it and render the example
# genconf, calling only the tarmac tools' command lines (see
# docs/integrations.md).
#
#   make                     everything: out/stamps/serve (cfg-gen's tree in out/serve)
#   make out/stamps/NAME.id  one package (and what it requires)
#   make -n                  the pipeline step by step, to run one step by hand
#   make BIN=/path/to/tools  use tools built elsewhere (default target/debug)
#   make clean               remove out/
#
# The graph:
#   packages/NAME/** + the ids of NAME's requires  -> out/stamps/NAME.id
#       pkg-build NAME: out/repo/packages/NAME/NAME--VERSION.tar.zst;
#       the stamp holds the id pkg-build printed
#   every out/stamps/NAME.id                       -> out/stamps/bundle
#       pkg-bundle: out/dist/bootstrap/...; the stamp holds the bootstrap id
#       and the blake3 of the bundle file
#   out/stamps/bundle + genconf/** + host tools    -> out/stamps/serve
#       cfg-gen: out/serve/; the stamp holds the config package ids
#
# Every stamp is written to a temp file and renamed once its step succeeded,
# so an interrupted make (SIGINT or SIGKILL) never leaves a stamp that looks
# complete: the next make redoes the interrupted step. The tools themselves
# write their outputs atomically, so a half-run step leaves nothing a later
# step could mistake for a result.
#
# Adding a package to packages/: add its name to PACKAGES, its requires to
# NAME_REQUIRES and its tree variant (treeinfo.json) to NAME_VARIANT. The
# integration test tests/make.rs checks this graph against
# `pkg-build --plan --json --tree`.

BIN ?= target/debug
PACKAGES_DIR ?= packages
GENCONF ?= genconf
OUT ?= out

PKG_BUILD = $(BIN)/pkg-build
PKG_BUNDLE = $(BIN)/pkg-bundle
CFG_GEN = $(BIN)/cfg-gen
HOST_TOOLS = $(BIN)/host-extract $(BIN)/ip-detect-run $(BIN)/pkg-activate

REPO = $(OUT)/repo
CACHE = $(OUT)/cache
DIST = $(OUT)/dist
SERVE = $(OUT)/serve
STAMPS = $(OUT)/stamps

# The example tree, in build order.
PACKAGES = libgreet greeter hello-git motd
greeter_REQUIRES = libgreet
motd_VARIANT = custom

ID_STAMPS = $(PACKAGES:%=$(STAMPS)/%.id)
# genconf's inputs: everything but a serve/ tree left by a plain cfg-gen run.
GENCONF_FILES = $(shell find $(GENCONF) -path $(GENCONF)/serve -prune -o -print)

all: $(STAMPS)/serve
.PHONY: all clean

# A failed recipe must not leave its target behind (the stamps are renamed
# into place last, so this is belt and braces).
.DELETE_ON_ERROR:

ifeq ($(filter clean,$(MAKECMDGOALS)),)
ifeq ($(wildcard $(PKG_BUILD)),)
$(error $(PKG_BUILD): not found; run `cargo build --bins` or pass BIN=DIR holding the tarmac tools)
endif
endif

$(STAMPS):
	mkdir -p $@

# One rule per package. Inputs: every file and directory under
# packages/NAME (buildinfo.json, variants, build, extra/, local sources;
# directories so a removed file counts) and the id stamps of its requires.
define package_rule
$(STAMPS)/$(1).id: $(shell find $(PACKAGES_DIR)/$(1)) $(foreach r,$($(1)_REQUIRES),$(STAMPS)/$(r).id) | $(STAMPS)
	$(PKG_BUILD) --quiet --packages $(PACKAGES_DIR) --repo $(REPO) --cache $(CACHE) $(1)$(if $($(1)_VARIANT),:$($(1)_VARIANT)) >$$@.out
	grep -x '$(1)--.*' $$@.out >$$@.tmp
	rm -f $$@.out
	mv -f $$@.tmp $$@
endef
$(foreach p,$(PACKAGES),$(eval $(call package_rule,$(p))))

# The bundle of every package id above; pkg-bundle prints the bootstrap id
# and the blake3 of the bundle file.
$(STAMPS)/bundle: $(ID_STAMPS)
	cat $(ID_STAMPS) >$@.ids
	$(PKG_BUNDLE) --quiet --ids-from $@.ids --repo $(REPO) --out $(DIST) >$@.tmp
	rm -f $@.ids
	mv -f $@.tmp $@

# The serve tree for that bundle (DIST keeps older bundles; the stamp names
# the current one). cfg-gen replaces out/serve as a whole.
$(STAMPS)/serve: $(STAMPS)/bundle $(GENCONF_FILES) $(HOST_TOOLS)
	$(CFG_GEN) --genconf $(GENCONF) --dist $(DIST) --bootstrap-id "$$(head -n1 $(STAMPS)/bundle)" --bin-dir $(BIN) --output $(SERVE) >$@.tmp
	mv -f $@.tmp $@

clean:
	rm -rf $(OUT)
