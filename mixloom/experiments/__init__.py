"""Experiments over whole recipes: ablations (`mixloom ablate`) and mixture search (`mixloom mix-search`).

Core-only: variants are recipes, run through `mixloom.orchestrator.run_recipe`; numbers are read from the
eval stage's files. Nothing here imports a stage package.
"""
