"""Drivers of the local stack from outside, as the app, Google and an operator would: the
emulators' and the fake Google's clients, the linking flow, Pub/Sub, devices and pushes,
mail, files and events. Used by the end-to-end tests, the demo and the benchmarks."""
