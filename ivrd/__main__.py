from ivrd.cli import main

main()
