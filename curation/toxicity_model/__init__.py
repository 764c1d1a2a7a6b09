"""mixloom's own toxicity model: identity-masked hashed n-grams, a linear model, trained offline.

`model.load()` gives the shipped model; `train.build` rebuilds it (`mixloom toxicity-model build`)."""
