from adrastea._launch import main

main()
