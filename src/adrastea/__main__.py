from adrastea.cli import main

main()
