"""The local AWS world's emulator: the moto server (world.emulator.server) with the extensions that
give it the AWS behaviour the drain depends on, each citing the AWS documentation it follows."""
