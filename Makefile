# Entry points for people and CI. Everything runs inside the project's own virtualenv.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(abspath $(VENV))/bin
# DVC stage commands call plain `python`; put the venv first so they get the project's one.
export PATH := $(BIN):$(PATH)
export GX_ANALYTICS_ENABLED := false

# make repro SOURCE=synthetic runs the pipeline offline on generated audio.
SOURCE ?=

.PHONY: setup repro experiments dvc test test-fast coverage lint bench crossval ablation pr-report clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	# Pretrained musicnn weights (read without TensorFlow): the package's own pins
	# (numpy<1.17, tensorflow) are for its TensorFlow code, which is never imported.
	$(BIN)/pip install --quiet --no-deps musicnn==0.1.0
	touch $@

# SOURCE is written into params.yaml as one changed line (`dvc exp run -S` would rewrite the
# whole file), then the experiment runs.
repro: setup
ifeq ($(SOURCE),)
	$(BIN)/dvc repro
else
	$(BIN)/musicgenre set-params data.source=$(SOURCE)
	$(BIN)/dvc exp run
endif

# Every experiment's test accuracy per model and the params it changed, one row each.
experiments: setup
	$(BIN)/musicgenre experiments

# Any DVC command, with the venv first on PATH as the stages need:
#   make dvc ARGS="exp run -S model=rnn"
ARGS ?= status
dvc: setup
	$(BIN)/dvc $(ARGS)

# Independent tests run on TEST_WORKERS processes (pytest-xdist; auto: one per core); the
# tests that share the heavy fixtures stay on one of them (--dist loadgroup).
TEST_WORKERS ?= auto
XDIST := -n $(TEST_WORKERS) --dist loadgroup

test: setup
	$(BIN)/pytest $(XDIST)

# Leaves out end-to-end DVC runs and tests on the heavy fixtures (MusiCNN-embedded features,
# a converged crnn, crossval); `make test` runs everything.
test-fast: setup
	$(BIN)/pytest -m "not slow" $(XDIST)

# Line coverage of the library by the whole suite (in-process code; stage subprocesses are
# not measured).
coverage: setup
	$(BIN)/pytest $(XDIST) --cov=musicgenre --cov-report=term-missing:skip-covered

lint: setup
	$(BIN)/ruff check src stages tests

bench: setup
	$(BIN)/python benchmarks/run_all.py

# Honest accuracy on small labelled folders: k-fold cross-validation by artist (GROUP_BY=track
# for the artist-blind protocol), the folds dealt once per seed in CV_SEEDS, the first model
# also scored on excerpts of CV_EXCERPTS seconds and under the robustness conditions in
# params.yaml (CV_ROBUSTNESS), and the nested study of every pretrained representation
# (CV_STUDY; set either to nothing to leave it out). CV_DATA is one or more <genre>/<file>
# folders, pooled; by default the gtzan-dev, gtzan-extra and gtzan-more-artists folders of
# your real GTZAN copy, GENRE_REAL_DATA=/path/to/it (its gtzan-ref/GTZANindex.txt, if
# present, saves downloading Sturm's artist index). Unset, it is data/real in the checkout.
GENRE_REAL_DATA ?= data/real
CV_DATA ?= $(wildcard $(addprefix $(GENRE_REAL_DATA)/,gtzan-dev/genres gtzan-extra/genres gtzan-more-artists/genres))
CV_MODELS ?= transfer,baseline,crnn
CV_SEEDS ?= 0,1,2
CV_EXCERPTS ?= 1,2,3,5,10,30
CV_STUDY ?= --study
CV_ROBUSTNESS ?= --robustness
GROUP_BY ?= artist
ARTIST_INDEX ?= $(wildcard $(GENRE_REAL_DATA)/gtzan-ref/GTZANindex.txt)
crossval: setup
	$(BIN)/musicgenre crossval $(foreach d,$(CV_DATA),--data $(d)) --models $(CV_MODELS) \
		--group-by $(GROUP_BY) --seeds $(CV_SEEDS) --excerpts $(CV_EXCERPTS) $(CV_STUDY) \
		$(CV_ROBUSTNESS) --figures reports/crossval-$(GROUP_BY) \
		$(if $(ARTIST_INDEX),--artist-index $(ARTIST_INDEX)) --out reports/crossval-$(GROUP_BY).json

# Which features matter: one queued DVC experiment per feature set, with and without
# augmentation, for the from-scratch networks, JOBS at a time (each gets cores / JOBS
# threads), on params.yaml's data; writes reports/ablation.md and reports/ablation.png.
ABLATION_SETS ?= mfcc,chroma,contrast,seed_stack,logmel
ABLATION_COPIES ?= 0,2
ABLATION_MODELS ?= cnn,rnn,crnn
JOBS ?= 1
ablation: setup
	$(BIN)/musicgenre ablation --sets $(ABLATION_SETS) --copies $(ABLATION_COPIES) --jobs $(JOBS) \
		--models $(ABLATION_MODELS) --out reports/ablation.md

# The markdown the pull-request workflow posts: metrics and params diff against BASE.
BASE ?= main
pr-report: setup
	$(BIN)/musicgenre pr-report --base $(BASE) --out pr-report.md

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
