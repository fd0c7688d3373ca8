"""The toolkit page's own words (headings, buttons, explanations) per language; a language without its own
takes English. The campaign's words (call, samples, alt texts, endorsers) come from the campaign file."""

from __future__ import annotations

from typing import Mapping

ENGLISH: Mapping[str, str] = {
    "languages": "Languages",
    "moment": "The moment",
    "your_time": "Your time",
    "your_time_without_js": "Your own time appears here with JavaScript on; the times above are the storm's.",
    "starts": "Starts",
    "started": "The storm has started",
    "add_to_calendar": "Add to calendar",
    "ics": "Calendar file (.ics)",
    "google": "Google Calendar",
    "call": "The call",
    "copy_text": "Copy",
    "copied": "Copied",
    "samples": "Posts to share",
    "samples_intro": "Post one of these from your own account: each link opens the platform with the text filled in; "
                     "nothing is posted until you press its button there.",
    "post_on": "Post on",
    "length": "Length",
    "no_link": "No link",
    "mastodon_instance": "Your Mastodon server",
    "mastodon_instance_help": "The Mastodon links open on this server (remembered in this browser only).",
    "x_rule_title": "Posting from several accounts?",
    "x_rule": "X forbids posting the same or nearly the same text from several accounts, and any tool that "
              "coordinates several accounts to push a hashtag. Post from each of your accounts yourself, with a "
              "different text on each: pick another sample or write your own words.",
    "images": "Images",
    "images_intro": "Save an image and attach it to your post, with its description (alt text) so that everyone "
                    "can read it. The images carry no metadata (no location, camera or date).",
    "alt": "Description (alt text)",
    "download": "Download",
    "fits": "Prepared for",
    "endorsers": "Endorsers",
    "search": "Search the endorsers",
    "more": "More information",
    "privacy": "This page loads nothing from any other site and keeps no record of you. A link opens a platform "
               "only when you click it.",
}

SPANISH: Mapping[str, str] = {
    "languages": "Idiomas",
    "moment": "El momento",
    "your_time": "Tu hora",
    "your_time_without_js": "Tu hora local aparece aquí con JavaScript activado; las horas de arriba son las de la "
                            "acción.",
    "starts": "Empieza",
    "started": "La acción ya ha empezado",
    "add_to_calendar": "Añadir al calendario",
    "ics": "Archivo de calendario (.ics)",
    "google": "Google Calendar",
    "call": "La convocatoria",
    "copy_text": "Copiar",
    "copied": "Copiado",
    "samples": "Mensajes para compartir",
    "samples_intro": "Publica uno de estos desde tu propia cuenta: cada enlace abre la plataforma con el texto ya "
                     "escrito; nada se publica hasta que pulses su botón allí.",
    "post_on": "Publicar en",
    "length": "Longitud",
    "no_link": "Sin enlace",
    "mastodon_instance": "Tu servidor de Mastodon",
    "mastodon_instance_help": "Los enlaces de Mastodon se abren en este servidor (se recuerda solo en este "
                              "navegador).",
    "x_rule_title": "¿Publicas desde varias cuentas?",
    "x_rule": "X prohíbe publicar el mismo texto, o uno casi igual, desde varias cuentas, y cualquier herramienta "
              "que coordine varias cuentas para impulsar un hashtag. Publica tú desde cada cuenta, con un texto "
              "distinto en cada una: elige otro mensaje o escribe tus propias palabras.",
    "images": "Imágenes",
    "images_intro": "Guarda una imagen y añádela a tu mensaje con su descripción (texto alternativo) para que todo "
                    "el mundo pueda leerla. Las imágenes no llevan metadatos (ni lugar, ni cámara, ni fecha).",
    "alt": "Descripción (texto alternativo)",
    "download": "Descargar",
    "fits": "Preparada para",
    "endorsers": "Organizaciones firmantes",
    "search": "Buscar entre las firmantes",
    "more": "Más información",
    "privacy": "Esta página no carga nada de otros sitios ni guarda ningún dato sobre ti. Un enlace abre una "
               "plataforma solo cuando lo pulsas.",
}

ARABIC: Mapping[str, str] = {
    "languages": "اللغات",
    "moment": "الموعد",
    "your_time": "بتوقيتك",
    "your_time_without_js": "يظهر هنا الموعد بتوقيتك المحلي عند تفعيل جافاسكربت؛ المواعيد أعلاه هي مواعيد العاصفة.",
    "starts": "تبدأ",
    "started": "بدأت العاصفة",
    "add_to_calendar": "أضف إلى التقويم",
    "ics": "ملف التقويم (.ics)",
    "google": "تقويم Google",
    "call": "الدعوة",
    "copy_text": "نسخ",
    "copied": "تم النسخ",
    "samples": "منشورات للمشاركة",
    "samples_intro": "انشر أحد هذه النصوص من حسابك الخاص: كل رابط يفتح المنصة والنص مكتوب فيها، ولا يُنشر شيء حتى "
                     "تضغط زر النشر هناك.",
    "post_on": "انشر على",
    "length": "الطول",
    "no_link": "لا رابط",
    "mastodon_instance": "خادم ماستدون الخاص بك",
    "mastodon_instance_help": "تُفتح روابط ماستدون على هذا الخادم (يُحفظ في هذا المتصفح فقط).",
    "x_rule_title": "هل تنشر من عدة حسابات؟",
    "x_rule": "يمنع X نشر النص نفسه أو نص شبه مطابق من عدة حسابات، وأي أداة تنسّق عدة حسابات لدفع وسم. انشر بنفسك من "
              "كل حساب بنص مختلف: اختر منشورًا آخر أو اكتب كلماتك الخاصة.",
    "images": "الصور",
    "images_intro": "احفظ الصورة وأرفقها بمنشورك مع وصفها (النص البديل) ليتمكن الجميع من قراءتها. لا تحمل الصور أي "
                    "بيانات وصفية (لا موقع ولا كاميرا ولا تاريخ).",
    "alt": "الوصف (النص البديل)",
    "download": "تنزيل",
    "fits": "مُعدّة لـ",
    "endorsers": "المنظمات الموقّعة",
    "search": "ابحث في المنظمات الموقّعة",
    "more": "لمزيد من المعلومات",
    "privacy": "لا تحمّل هذه الصفحة أي شيء من مواقع أخرى ولا تحتفظ بأي سجل عنك. لا يفتح الرابط أي منصة إلا عند "
               "الضغط عليه.",
}

WORDS: Mapping[str, Mapping[str, str]] = {"en": ENGLISH, "es": SPANISH, "ar": ARABIC}


def words_for(code: str) -> Mapping[str, str]:
    """The page's words in ``code`` ("es-MX" takes "es"), else English."""
    base = code.replace("_", "-").split("-")[0].lower()
    return {**ENGLISH, **WORDS.get(base, {})}
