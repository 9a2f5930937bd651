from tollgate_cli.main import main

main()
