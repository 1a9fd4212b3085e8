from redge_solve.cli import main

main()
