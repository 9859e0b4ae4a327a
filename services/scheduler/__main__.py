from shared.runner import main

main("scheduler")
