from tlcore.cli import console

console()
