"""The words of the built-in auth mails, per locale (read by build_templates.py).

Plain text with ``{{ placeholders }}``. Register: English plain and direct; German
"Sie"; French "vous" with a no-break space (\u00a0) before : ? ! ;; Spanish "usted";
Brazilian Portuguese "você"; Korean polite -요/-습니다 forms; Japanese です/ます;
Simplified Chinese with "您". Keys per kind: ``subject``, ``heading`` (also the HTML
title), ``preheader`` (inbox preview line; never the code), ``intro`` (HTML, refers to
the button), ``text_intro`` (plain text, refers to the link), ``button``, ``expiry``
and ``ignore`` (what to do if the mail was not expected).
"""

from __future__ import annotations

NBSP = "\u00a0"

WORDING: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "fallback": {
            "button": "If the button does not work, copy and paste this link into your browser:",
        },
        "magic_link": {
            "subject": "Your sign-in link for {{ product_name }}",
            "heading": "Sign in to {{ product_name }}",
            "preheader": "Your sign-in link expires in {{ expires_text }}.",
            "intro": "Use the button below to sign in to {{ product_name }}.",
            "text_intro": "Use this link to sign in to {{ product_name }}:",
            "button": "Sign in to {{ product_name }}",
            "expiry": "This link expires in {{ expires_text }}.",
            "ignore": "If you did not ask to sign in, you can safely ignore this email. "
            "Nobody can sign in without this link.",
        },
        "otp": {
            "subject": "Your sign-in code for {{ product_name }}",
            "heading": "Your sign-in code",
            "preheader": "Your sign-in code expires in {{ expires_text }}.",
            "intro": "Enter this code to sign in to {{ product_name }}:",
            "expiry": "This code expires in {{ expires_text }}. Do not share it with anyone.",
            "ignore": "If you did not try to sign in, you can safely ignore this email. "
            "Nobody can sign in without this code.",
        },
        "password_reset": {
            "subject": "Reset your password for {{ product_name }}",
            "heading": "Reset your password",
            "preheader": "Your password reset link expires in {{ expires_text }}.",
            "intro": "We received a request to reset the password for your "
            "{{ product_name }} account. Use the button below to choose a new one.",
            "text_intro": "We received a request to reset the password for your "
            "{{ product_name }} account. Use this link to choose a new one:",
            "button": "Choose a new password",
            "expiry": "This link expires in {{ expires_text }}.",
            "ignore": "If you did not ask to reset your password, you can safely ignore this "
            "email. Your password will not change.",
        },
    },
    "de": {
        "fallback": {
            "button": "Falls die Schaltfläche nicht funktioniert, kopieren Sie diesen Link in "
            "die Adresszeile Ihres Browsers:",
        },
        "magic_link": {
            "subject": "Ihr Anmeldelink für {{ product_name }}",
            "heading": "Bei {{ product_name }} anmelden",
            "preheader": "Ihr Anmeldelink ist {{ expires_text }} gültig.",
            "intro": "Über die Schaltfläche unten melden Sie sich bei {{ product_name }} an.",
            "text_intro": "Über diesen Link melden Sie sich bei {{ product_name }} an:",
            "button": "Bei {{ product_name }} anmelden",
            "expiry": "Der Link ist {{ expires_text }} gültig.",
            "ignore": "Falls Sie keine Anmeldung angefordert haben, können Sie diese E-Mail "
            "einfach ignorieren. Ohne diesen Link kann sich niemand anmelden.",
        },
        "otp": {
            "subject": "Ihr Anmeldecode für {{ product_name }}",
            "heading": "Ihr Anmeldecode",
            "preheader": "Ihr Anmeldecode ist {{ expires_text }} gültig.",
            "intro": "Geben Sie diesen Code ein, um sich bei {{ product_name }} anzumelden:",
            "expiry": "Der Code ist {{ expires_text }} gültig. Geben Sie ihn an niemanden weiter.",
            "ignore": "Falls Sie nicht versucht haben, sich anzumelden, können Sie diese "
            "E-Mail einfach ignorieren. Ohne diesen Code kann sich niemand anmelden.",
        },
        "password_reset": {
            "subject": "Passwort für {{ product_name }} zurücksetzen",
            "heading": "Passwort zurücksetzen",
            "preheader": "Ihr Link zum Zurücksetzen des Passworts ist {{ expires_text }} gültig.",
            "intro": "Wir haben eine Anfrage erhalten, das Passwort für Ihr Konto bei "
            "{{ product_name }} zurückzusetzen. Über die Schaltfläche unten legen Sie ein "
            "neues Passwort fest.",
            "text_intro": "Wir haben eine Anfrage erhalten, das Passwort für Ihr Konto bei "
            "{{ product_name }} zurückzusetzen. Über diesen Link legen Sie ein neues "
            "Passwort fest:",
            "button": "Neues Passwort festlegen",
            "expiry": "Der Link ist {{ expires_text }} gültig.",
            "ignore": "Falls Sie das nicht angefordert haben, können Sie diese E-Mail einfach "
            "ignorieren. Ihr Passwort bleibt unverändert.",
        },
    },
    "es": {
        "fallback": {
            "button": "Si el botón no funciona, copie este enlace y péguelo en su navegador:",
        },
        "magic_link": {
            "subject": "Su enlace para iniciar sesión en {{ product_name }}",
            "heading": "Inicie sesión en {{ product_name }}",
            "preheader": "Su enlace para iniciar sesión expira en {{ expires_text }}.",
            "intro": "Haga clic en el botón de abajo para iniciar sesión en {{ product_name }}.",
            "text_intro": "Use este enlace para iniciar sesión en {{ product_name }}:",
            "button": "Iniciar sesión en {{ product_name }}",
            "expiry": "Este enlace expira en {{ expires_text }}.",
            "ignore": "Si no solicitó iniciar sesión, puede ignorar este correo con "
            "tranquilidad. Nadie puede iniciar sesión sin este enlace.",
        },
        "otp": {
            "subject": "Su código de acceso a {{ product_name }}",
            "heading": "Su código de acceso",
            "preheader": "Su código de acceso expira en {{ expires_text }}.",
            "intro": "Escriba este código para iniciar sesión en {{ product_name }}:",
            "expiry": "Este código expira en {{ expires_text }}. No lo comparta con nadie.",
            "ignore": "Si no intentó iniciar sesión, puede ignorar este correo con "
            "tranquilidad. Nadie puede iniciar sesión sin este código.",
        },
        "password_reset": {
            "subject": "Restablezca su contraseña de {{ product_name }}",
            "heading": "Restablezca su contraseña",
            "preheader": "Su enlace para restablecer la contraseña expira en {{ expires_text }}.",
            "intro": "Recibimos una solicitud para restablecer la contraseña de su cuenta de "
            "{{ product_name }}. Haga clic en el botón de abajo para elegir una nueva.",
            "text_intro": "Recibimos una solicitud para restablecer la contraseña de su cuenta "
            "de {{ product_name }}. Use este enlace para elegir una nueva:",
            "button": "Elegir una contraseña nueva",
            "expiry": "Este enlace expira en {{ expires_text }}.",
            "ignore": "Si no solicitó este cambio, puede ignorar este correo con tranquilidad. "
            "Su contraseña no cambiará.",
        },
    },
    "fr": {
        "fallback": {
            "button": "Si le bouton ne fonctionne pas, copiez ce lien et collez-le dans votre "
            f"navigateur{NBSP}:",
        },
        "magic_link": {
            "subject": "Votre lien de connexion à {{ product_name }}",
            "heading": "Connexion à {{ product_name }}",
            "preheader": "Votre lien de connexion est valable {{ expires_text }}.",
            "intro": "Cliquez sur le bouton ci-dessous pour vous connecter à {{ product_name }}.",
            "text_intro": f"Utilisez ce lien pour vous connecter à {{{{ product_name }}}}{NBSP}:",
            "button": "Se connecter à {{ product_name }}",
            "expiry": "Ce lien est valable {{ expires_text }}.",
            "ignore": "Si vous n’avez pas demandé à vous connecter, vous pouvez ignorer cet "
            "e-mail en toute sécurité. Personne ne peut se connecter sans ce lien.",
        },
        "otp": {
            "subject": "Votre code de connexion à {{ product_name }}",
            "heading": "Votre code de connexion",
            "preheader": "Votre code de connexion est valable {{ expires_text }}.",
            "intro": f"Saisissez ce code pour vous connecter à {{{{ product_name }}}}{NBSP}:",
            "expiry": "Ce code est valable {{ expires_text }}. Ne le communiquez à personne.",
            "ignore": "Si vous n’avez pas essayé de vous connecter, vous pouvez ignorer cet "
            "e-mail en toute sécurité. Personne ne peut se connecter sans ce code.",
        },
        "password_reset": {
            "subject": "Réinitialisation de votre mot de passe {{ product_name }}",
            "heading": "Réinitialisez votre mot de passe",
            "preheader": "Votre lien de réinitialisation est valable {{ expires_text }}.",
            "intro": "Nous avons reçu une demande de réinitialisation du mot de passe de votre "
            "compte {{ product_name }}. Cliquez sur le bouton ci-dessous pour en choisir un "
            "nouveau.",
            "text_intro": "Nous avons reçu une demande de réinitialisation du mot de passe de "
            "votre compte {{ product_name }}. Utilisez ce lien pour en choisir un "
            f"nouveau{NBSP}:",
            "button": "Choisir un nouveau mot de passe",
            "expiry": "Ce lien est valable {{ expires_text }}.",
            "ignore": "Si vous n’êtes pas à l’origine de cette demande, vous pouvez ignorer cet "
            "e-mail en toute sécurité. Votre mot de passe ne sera pas modifié.",
        },
    },
    "ja": {
        "fallback": {
            "button": "ボタンが機能しない場合は、"
            "次のリンクをコピーしてブラウザに貼り付けてください。",
        },
        "magic_link": {
            "subject": "【{{ product_name }}】ログイン用リンクのお知らせ",
            "heading": "{{ product_name }}へのログイン",
            "preheader": "ログイン用リンクは{{ expires_text }}有効です。",
            "intro": "下のボタンをクリックして、{{ product_name }}にログインしてください。",
            "text_intro": "次のリンクから{{ product_name }}にログインしてください。",
            "button": "{{ product_name }}にログイン",
            "expiry": "このリンクは{{ expires_text }}有効です。",
            "ignore": "お心当たりのない場合は、このメールを破棄してください。"
            "このリンクがなければ、誰もログインできません。",
        },
        "otp": {
            "subject": "【{{ product_name }}】ログイン用確認コード",
            "heading": "ログイン用確認コード",
            "preheader": "確認コードは{{ expires_text }}有効です。",
            "intro": "{{ product_name }}にログインするには、次の確認コードを入力してください。",
            "expiry": "この確認コードは{{ expires_text }}有効です。"
            "他の人には絶対に教えないでください。",
            "ignore": "お心当たりのない場合は、このメールを破棄してください。"
            "この確認コードがなければ、誰もログインできません。",
        },
        "password_reset": {
            "subject": "【{{ product_name }}】パスワード再設定のご案内",
            "heading": "パスワードの再設定",
            "preheader": "パスワード再設定用リンクは{{ expires_text }}有効です。",
            "intro": "{{ product_name }}アカウントのパスワード再設定のリクエストを受け付けました。"
            "下のボタンをクリックして、新しいパスワードを設定してください。",
            "text_intro": "{{ product_name }}アカウントのパスワード再設定のリクエストを"
            "受け付けました。次のリンクから新しいパスワードを設定してください。",
            "button": "新しいパスワードを設定する",
            "expiry": "このリンクは{{ expires_text }}有効です。",
            "ignore": "お心当たりのない場合は、このメールを破棄してください。"
            "パスワードは変更されません。",
        },
    },
    "ko": {
        "fallback": {
            "button": "버튼이 작동하지 않으면 아래 링크를 복사해 브라우저 주소창에 붙여 넣으세요.",
        },
        "magic_link": {
            "subject": "{{ product_name }} 로그인 링크",
            "heading": "{{ product_name }}에 로그인",
            "preheader": "로그인 링크는 {{ expires_text }} 후에 만료됩니다.",
            "intro": "아래 버튼을 눌러 {{ product_name }}에 로그인하세요.",
            "text_intro": "아래 링크를 열어 {{ product_name }}에 로그인하세요.",
            "button": "{{ product_name }}에 로그인",
            "expiry": "이 링크는 {{ expires_text }} 후에 만료됩니다.",
            "ignore": "로그인을 요청하지 않으셨다면 이 메일을 무시하셔도 됩니다. "
            "이 링크가 없으면 누구도 로그인할 수 없습니다.",
        },
        "otp": {
            "subject": "{{ product_name }} 로그인 인증 코드",
            "heading": "로그인 인증 코드",
            "preheader": "인증 코드는 {{ expires_text }} 후에 만료됩니다.",
            "intro": "{{ product_name }}에 로그인하려면 아래 코드를 입력하세요.",
            "expiry": "이 코드는 {{ expires_text }} 후에 만료됩니다. "
            "다른 사람에게 알려 주지 마세요.",
            "ignore": "로그인을 시도하지 않으셨다면 이 메일을 무시하셔도 됩니다. "
            "이 코드가 없으면 누구도 로그인할 수 없습니다.",
        },
        "password_reset": {
            "subject": "{{ product_name }} 비밀번호 재설정 안내",
            "heading": "비밀번호 재설정",
            "preheader": "비밀번호 재설정 링크는 {{ expires_text }} 후에 만료됩니다.",
            "intro": "{{ product_name }} 계정의 비밀번호 재설정 요청을 받았습니다. "
            "아래 버튼을 눌러 새 비밀번호를 설정하세요.",
            "text_intro": "{{ product_name }} 계정의 비밀번호 재설정 요청을 받았습니다. "
            "아래 링크를 열어 새 비밀번호를 설정하세요.",
            "button": "새 비밀번호 설정하기",
            "expiry": "이 링크는 {{ expires_text }} 후에 만료됩니다.",
            "ignore": "비밀번호 재설정을 요청하지 않으셨다면 이 메일을 무시하셔도 됩니다. "
            "비밀번호는 변경되지 않습니다.",
        },
    },
    "pt-BR": {
        "fallback": {
            "button": "Se o botão não funcionar, copie este link e cole-o no seu navegador:",
        },
        "magic_link": {
            "subject": "{{ product_name }}: seu link de acesso",
            "heading": "Acesse sua conta {{ product_name }}",
            "preheader": "Seu link de acesso expira em {{ expires_text }}.",
            "intro": "Clique no botão abaixo para entrar na sua conta {{ product_name }}.",
            "text_intro": "Use este link para entrar na sua conta {{ product_name }}:",
            "button": "Entrar na minha conta",
            "expiry": "Este link expira em {{ expires_text }}.",
            "ignore": "Se você não pediu para entrar, pode ignorar este e-mail com segurança. "
            "Ninguém consegue entrar sem este link.",
        },
        "otp": {
            "subject": "{{ product_name }}: seu código de acesso",
            "heading": "Seu código de acesso",
            "preheader": "Seu código de acesso expira em {{ expires_text }}.",
            "intro": "Digite este código para entrar na sua conta {{ product_name }}:",
            "expiry": "Este código expira em {{ expires_text }}. Não compartilhe este código "
            "com ninguém.",
            "ignore": "Se você não tentou entrar, pode ignorar este e-mail com segurança. "
            "Ninguém consegue entrar sem este código.",
        },
        "password_reset": {
            "subject": "{{ product_name }}: redefinição de senha",
            "heading": "Redefina sua senha",
            "preheader": "Seu link para redefinir a senha expira em {{ expires_text }}.",
            "intro": "Recebemos uma solicitação para redefinir a senha da sua conta "
            "{{ product_name }}. Clique no botão abaixo para escolher uma nova senha.",
            "text_intro": "Recebemos uma solicitação para redefinir a senha da sua conta "
            "{{ product_name }}. Use este link para escolher uma nova senha:",
            "button": "Escolher uma nova senha",
            "expiry": "Este link expira em {{ expires_text }}.",
            "ignore": "Se você não fez essa solicitação, pode ignorar este e-mail com "
            "segurança. Sua senha continuará a mesma.",
        },
    },
    "zh-Hans": {
        "fallback": {
            "button": "如果按钮无法使用，请复制以下链接，粘贴到浏览器地址栏中打开：",
        },
        "magic_link": {
            "subject": "您的 {{ product_name }} 登录链接",
            "heading": "登录 {{ product_name }}",
            "preheader": "您的登录链接将在 {{ expires_text }}后失效。",
            "intro": "请点击下方按钮登录 {{ product_name }}。",
            "text_intro": "请使用以下链接登录 {{ product_name }}：",
            "button": "登录 {{ product_name }}",
            "expiry": "此链接将在 {{ expires_text }}后失效。",
            "ignore": "如果您没有请求登录，请忽略此邮件。没有此链接，任何人都无法登录。",
        },
        "otp": {
            "subject": "您的 {{ product_name }} 登录验证码",
            "heading": "您的登录验证码",
            "preheader": "您的验证码将在 {{ expires_text }}后失效。",
            "intro": "请输入以下验证码登录 {{ product_name }}：",
            "expiry": "此验证码将在 {{ expires_text }}后失效。请勿将验证码告诉任何人。",
            "ignore": "如果您没有尝试登录，请忽略此邮件。没有此验证码，任何人都无法登录。",
        },
        "password_reset": {
            "subject": "重置您的 {{ product_name }} 密码",
            "heading": "重置密码",
            "preheader": "您的密码重置链接将在 {{ expires_text }}后失效。",
            "intro": "我们收到了重置您的 {{ product_name }} 账户密码的请求。"
            "请点击下方按钮设置新密码。",
            "text_intro": "我们收到了重置您的 {{ product_name }} 账户密码的请求。"
            "请使用以下链接设置新密码：",
            "button": "设置新密码",
            "expiry": "此链接将在 {{ expires_text }}后失效。",
            "ignore": "如果您没有请求重置密码，请忽略此邮件，您的密码不会被更改。",
        },
    },
}
