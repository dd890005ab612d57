"""Stories: which archived articles, from any site and in any of az, kk, ru and en, report one
real-world event. The stage after tagging (monitor.core.stages): `signature` reads what an
article says (a multilingual embedding of its title and lead, the names and numbers in them, its
date), `decide` judges two signatures pure, and `embedding` is the one adapter of the model."""
