"""One function per act a person takes, shared by the JSON routes, the task inbox and the
pages: each declares who may call it, takes the caller and one input model, returns one
model and raises named domain errors (`domain.errors`)."""
