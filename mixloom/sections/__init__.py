"""Recipe sections, one module per stage; `mixloom.recipe.Recipe` composes them.

Stage packages import their own section model from here and nothing from each other.
"""
