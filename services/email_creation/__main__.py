from shared.runner import main

main("email_creation")
