from l4agent.cli import main

main()
